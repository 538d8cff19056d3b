"""Creating the interpreter and the plans of a model's signatures."""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

from edgeml._optional import is_available, require
from edgeml.errors import EdgeMLError, ModelFormatError, UnsupportedModelError, invalid_argument
from edgeml.modelfile._flatbuffer import flatbuffer_utils
from edgeml.runtime._plan import Plan
from edgeml.runtime._ports import Port, natural_key

__all__ = ["build_plans", "check_num_threads", "make_interpreter"]

_TYPE_BYTES = {
    "FLOAT16": 2,
    "INT16": 2,
    "UINT16": 2,
    "UINT8": 1,
    "INT8": 1,
    "BOOL": 1,
    "INT4": 1,
    "FLOAT64": 8,
    "INT64": 8,
    "UINT64": 8,
    "COMPLEX64": 8,
    "COMPLEX128": 16,
}
_WRAPPER_METHODS = (
    "SetTensor",
    "GetTensor",
    "Invoke",
    "ResizeInputTensor",
    "AllocateTensors",
    "GetSubgraphIndexFromSignature",
)


def make_interpreter(content: bytes, num_threads: int | None, backend: str) -> tuple[Any, str]:
    if backend == "auto":
        backend = "litert" if is_available("ai_edge_litert") else "tflite"
        if backend == "tflite" and not is_available("tensorflow"):
            backend = "litert"  # so the error names the extra a device needs
    if backend == "litert":
        module = require(
            "ai_edge_litert.interpreter", extra="litert", feature="Running .tflite models"
        )
        factory = module.Interpreter
    else:
        tf = require("tensorflow", extra="tf", feature="The tf.lite fallback interpreter")
        factory = tf.lite.Interpreter
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            # Always from bytes: tf.lite.Interpreter(model_path=...) segfaults on
            # truncated or corrupted files, model_content raises instead.
            interpreter = factory(model_content=content, num_threads=num_threads)
    except (ValueError, RuntimeError) as exc:
        raise ModelFormatError(
            f"The interpreter rejected the model ({len(content)} bytes): "
            f"{str(exc).strip().rstrip('.')}. Fix: check that the file is a complete .tflite model."
        ) from exc
    wrapper: Any = getattr(interpreter, "_interpreter", None)
    missing = [m for m in _WRAPPER_METHODS if not hasattr(wrapper, m)]
    if missing:  # pragma: no cover - guards against an incompatible interpreter release
        raise UnsupportedModelError(
            f"The {backend} interpreter lacks {missing}; edgeml supports ai-edge-litert "
            '2.3 and tf.lite from TensorFlow 2.21. Fix: pip install "edgeml[litert]".'
        )
    try:
        wrapper.AllocateTensors()
    except (ValueError, RuntimeError) as exc:
        text = str(exc).strip().rstrip(".")
        error = UnsupportedModelError if re.search(r"(?i)custom op|flex|select", text) else None
        if error is not None:
            raise error(
                f"The {backend} interpreter cannot run this model: {text}. Fix: convert "
                "without Flex/custom ops, or use an interpreter built with them."
            ) from exc
        raise ModelFormatError(f"The model failed to allocate its tensors: {text}.") from exc
    return interpreter, backend


def build_plans(interpreter: Any, content: bytes) -> dict[str, Plan]:
    """Return a plan per signature; anything odd in the model is a ModelFormatError.

    The interpreter's own accessors fail on damaged models in many ways (a tensor name
    that is not UTF-8 raises ``UnicodeDecodeError``, a bad signature a ``KeyError``...):
    this is the one boundary that turns them into a model problem.
    """
    try:
        plans = _plans(interpreter, content)
    except EdgeMLError:
        raise
    except Exception as exc:
        raise ModelFormatError(
            f"The model's tensors or signatures cannot be read ({type(exc).__name__}: "
            f"{str(exc)[:200]}). Fix: re-convert or re-download the model."
        ) from exc
    if not plans:
        raise ModelFormatError(
            "The model has no signature or subgraph to run. Fix: re-convert the model."
        )
    return plans


def _plans(interpreter: Any, content: bytes) -> dict[str, Plan]:
    wrapper = interpreter._interpreter
    schema = flatbuffer_utils().schema_fb
    root = schema.Model.GetRootAs(content, 0)
    type_bytes = {
        code: _TYPE_BYTES.get(name, 4)
        for name, code in vars(schema.TensorType).items()
        if name.isupper()
    }
    signatures = interpreter.get_signature_list()
    plans: dict[str, Plan] = {}
    if not signatures:
        inputs = [Port(str(d["name"]), d) for d in interpreter.get_input_details()]
        outputs = [Port(str(d["name"]), d) for d in interpreter.get_output_details()]
        shapes = [tuple(int(v) for v in d["shape"]) for d in interpreter.get_input_details()]
        plans[""] = Plan(
            wrapper, "", 0, inputs, outputs, shapes, _activation_bytes(root, 0, type_bytes)
        )
        return plans
    for key in signatures:
        runner = interpreter.get_signature_runner(key)
        subgraph = int(wrapper.GetSubgraphIndexFromSignature(key))
        in_details = runner.get_input_details()
        out_details = runner.get_output_details()
        graph = root.Subgraphs(subgraph)
        if len(in_details) != graph.InputsLength() or len(out_details) != graph.OutputsLength():
            raise ModelFormatError(
                f"Signature {key!r} lists {len(in_details)} inputs and {len(out_details)} "
                f"outputs but its subgraph has {graph.InputsLength()} and "
                f"{graph.OutputsLength()}: the model is damaged. Fix: re-convert it."
            )
        order = [int(i) for i in graph.InputsAsNumpy()]
        position = {index: i for i, index in enumerate(order)}
        in_names = sorted(in_details, key=lambda n: position.get(int(in_details[n]["index"]), 0))
        out_names = sorted(out_details, key=natural_key)
        inputs = [Port(n, in_details[n]) for n in in_names]
        outputs = [Port(n, out_details[n]) for n in out_names]
        shapes = [tuple(int(v) for v in in_details[n]["shape"]) for n in in_names]
        if subgraph != 0:
            # Other subgraphs are allocated lazily by the interpreter; do it now so the
            # first predict does not pay for it and shapes are known.
            wrapper.AllocateTensors(subgraph)
        activations = _activation_bytes(root, subgraph, type_bytes)
        plans[key] = Plan(wrapper, key, subgraph, inputs, outputs, shapes, activations)
    return plans


def _activation_bytes(root: Any, subgraph_index: int, type_bytes: dict[int, int]) -> int:
    """Bytes of one sample's non-constant tensors in a subgraph (dynamic sizes as 1)."""
    subgraph = root.Subgraphs(subgraph_index)
    total = 0
    for t in range(subgraph.TensorsLength()):
        tensor = subgraph.Tensors(t)
        if root.Buffers(tensor.Buffer()).DataLength():
            continue  # a constant
        shape = tensor.ShapeAsNumpy() if tensor.ShapeLength() else ()
        total += type_bytes.get(int(tensor.Type()), 4) * math.prod(max(1, int(d)) for d in shape)
    return total


def check_num_threads(owner: str, num_threads: object) -> None:
    if num_threads is not None and (
        isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1
    ):
        raise invalid_argument(owner, "num_threads", num_threads, "None or an integer >= 1")
