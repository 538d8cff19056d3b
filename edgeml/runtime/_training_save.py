"""Saving a model trained on the device: new initial values, and the record of training.

The variables' initializer constants inside the flatbuffer are rewritten with their
current values, and the ``on_device_training`` document (and the model card, when there
is one) gains a record of what was trained here.
"""

from __future__ import annotations

import copy
import datetime as _dt
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml._optional import require
from edgeml.card import embed_card, read_card
from edgeml.errors import ModelFormatError, UnsupportedModelError
from edgeml.modelfile import TRAINING_ENTRY, with_edgeml_entry, with_metadata


def now() -> str:
    """Return the current UTC time, to the second, in ISO 8601."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def trained_content(
    content: bytes,
    spec: dict[str, Any],
    state: dict[str, NDArray[Any]],
    log: list[dict[str, Any]],
) -> bytes:
    """Return ``content`` with the ``state`` as initial values and a record of ``log``."""
    content = _patch_initial_values(content, state)
    record = {
        "trained_on_device": True,
        "data_left_device": False,
        "trained_layers": spec["trained_layers"],
        "sessions": len(log),
        "steps": sum(int(r["steps"]) for r in log),
        "examples": [int(r["examples"]) for r in log],
        "local_dp": [r["dp"] for r in log if r["dp"]],
        "saved": now(),
    }
    updated = copy.deepcopy(spec)
    updated["history"] = [*spec.get("history", []), record]
    content = with_metadata(content, TRAINING_ENTRY, updated)
    card = read_card(content)
    if card is not None:
        extra = {**dict(card.extra or {}), "on_device_training": updated["history"]}
        content = embed_card(content, card.replace(extra=extra))
    return with_edgeml_entry(content)


def _patch_initial_values(content: bytes, state: dict[str, NDArray[Any]]) -> bytes:
    try:
        return _patch(content, state)
    except (UnsupportedModelError, ModelFormatError):
        raise
    except Exception as exc:
        raise ModelFormatError(
            f"Cannot save: the model's structure is not what to_trainable writes "
            f"({type(exc).__name__}: {exc}). Fix: re-convert it with "
            "edgeml.conversion.to_trainable."
        ) from exc


def _patch(content: bytes, state: dict[str, NDArray[Any]]) -> bytes:
    """Return the model with each variable's initializer constant set to ``state``.

    ``get_state`` output ``sNNN`` is READ_VARIABLE of a VAR_HANDLE with some shared
    name; the initializer subgraph assigns that name a constant, whose buffer is
    rewritten (a buffer shared with other tensors gets a copy first).
    """
    utils = require(
        "ai_edge_litert.tools.flatbuffer_utils", extra="litert", feature="Saving a trained model"
    )
    model = utils.convert_bytearray_to_object(bytearray(content))
    ops = dict(vars(utils.schema_fb.BuiltinOperator))

    def handles(subgraph: Any) -> dict[int, str]:
        names = {}
        for op in subgraph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) == ops["VAR_HANDLE"]:
                shared = op.builtinOptions.sharedName
                names[op.outputs[0]] = shared.decode() if isinstance(shared, bytes) else shared
        return names

    def is_op(op: Any, name: str) -> bool:
        code = model.operatorCodes[op.opcodeIndex]
        return bool(max(code.builtinCode, code.deprecatedBuiltinCode) == ops[name])

    signature = next(s for s in model.signatureDefs if _text(s.signatureKey) == "get_state")
    reader = model.subgraphs[signature.subgraphIndex]
    reader_handles = handles(reader)
    produced = {}
    for op in reader.operators or []:
        if is_op(op, "READ_VARIABLE"):
            produced[op.outputs[0]] = reader_handles[op.inputs[0]]
    by_shared = {}
    for out in signature.outputs:
        by_shared[produced[out.tensorIndex]] = state[_text(out.name)]
    uses: dict[int, int] = {}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors or []:
            uses[tensor.buffer] = uses.get(tensor.buffer, 0) + 1
    patched = set()
    for subgraph in model.subgraphs:
        init_handles = handles(subgraph)
        for op in subgraph.operators or []:
            if not is_op(op, "ASSIGN_VARIABLE"):
                continue
            shared = init_handles.get(op.inputs[0])
            tensor = subgraph.tensors[op.inputs[1]]
            if shared not in by_shared or not tensor.buffer:
                continue
            value = np.ascontiguousarray(by_shared[shared], dtype=np.float32)
            if uses.get(tensor.buffer, 0) > 1:
                buffer = utils.schema_fb.BufferT()
                model.buffers.append(buffer)
                tensor.buffer = len(model.buffers) - 1
            model.buffers[tensor.buffer].data = np.frombuffer(value.tobytes(), dtype=np.uint8)
            patched.add(shared)
    missing = sorted(set(by_shared) - patched)
    if missing:
        raise UnsupportedModelError(
            f"Cannot save: no initial value of variables {missing} was found in the file. "
            "Fix: re-convert the model with edgeml.conversion.to_trainable."
        )
    return bytes(utils.convert_object_to_bytearray(model))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
