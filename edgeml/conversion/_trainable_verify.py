"""Checks of a converted trainable file: builtin ops only, and ``infer`` agrees with Keras."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeml._optional import require
from edgeml.errors import UnsupportedModelError


def builtin_names() -> set[str]:
    schema = require(
        "ai_edge_litert.tools.flatbuffer_utils", extra="litert", feature="Inspecting a .tflite"
    ).schema_fb
    return {name for name in vars(schema.BuiltinOperator) if name.isupper()}


def check_agreement(
    model: Any, model_bytes: bytes, in_shape: tuple[int | None, ...], tolerance: float
) -> None:
    """Refuse a conversion whose ``infer`` does not compute what the Keras model does."""
    interpreter_module = require(
        "ai_edge_litert.interpreter", extra="litert", feature="Checking a trainable model"
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *[int(d or 1) for d in in_shape[1:]])).astype(np.float32)
    interpreter = interpreter_module.Interpreter(model_content=model_bytes)
    got = interpreter.get_signature_runner("infer")(x=x)["output"]
    want = np.asarray(model(x, training=False), dtype=np.float32)
    gap = float(np.max(np.abs(got - want)))
    if not gap <= tolerance * (1.0 + float(np.max(np.abs(want)))):
        raise UnsupportedModelError(
            f"The trainable model's 'infer' differs from the Keras model by {gap:.3g} on a "
            "random input; edgeml's lowering of some layer does not match Keras. Fix: report "
            "the model's layers, and freeze the unusual ones meanwhile."
        )
