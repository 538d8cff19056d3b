"""Recognize what the user asked to convert, and what inputs it expects.

Kinds: ``"keras"`` (Keras 3), ``"tf_keras"`` (Keras 2), ``"saved_model"`` (a directory),
``"concrete_function"`` (a ``tf.function`` with an input signature, or a concrete
function). Recognition looks at class hierarchies by module name, so it never imports
Keras or TensorFlow for a kind the user did not pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from edgeml.errors import UnsupportedModelError

__all__ = ["InputSpec", "Kind", "input_specs", "kind_of", "layer_classes"]

Kind = Literal["keras", "tf_keras", "saved_model", "concrete_function", "tf_function"]


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, shape (``None`` = any size) and dtype name."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str

    def fits(self, shape: tuple[int, ...]) -> bool:
        """Whether an array of ``shape`` (batch included) fits this input."""
        return len(shape) == len(self.shape) and all(
            e is None or e == a for a, e in zip(shape, self.shape, strict=True)
        )

    def __str__(self) -> str:
        dims = ", ".join("None" if d is None else str(d) for d in self.shape)
        return f"{self.name!r} with shape ({dims}) and dtype {self.dtype}"


def _modules_of(obj: Any) -> list[str]:
    return [f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__]


def kind_of(model: Any) -> Kind:
    """Return what kind of convertible object ``model`` is.

    Raises
    ------
    UnsupportedModelError
        When it is none of the supported kinds.
    """
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "saved_model"
        raise UnsupportedModelError(
            f"{str(path)!r} is not a SavedModel directory (no saved_model.pb inside). "
            "Fix: pass a Keras model, a SavedModel directory or a tf.function; to read an "
            "existing .tflite file use TFLiteModel.load(path)."
        )
    names = _modules_of(model)
    if any(n.startswith("tf_keras.") and n.endswith(".Model") for n in names):
        return "tf_keras"
    if any(n.startswith("keras.") and n.endswith(".Model") for n in names):
        return "keras"
    if any(n.startswith(("tf_keras.", "keras.")) and n.endswith(".Layer") for n in names):
        raise UnsupportedModelError(
            f"{type(model).__name__} is a Keras layer, not a model. "
            "Fix: wrap it in a model, e.g. keras.Sequential([keras.Input(shape), layer])."
        )
    if any(n.endswith("ConcreteFunction") for n in names):
        return "concrete_function"
    if any(".polymorphic_function." in n or n.endswith("def_function.Function") for n in names):
        return "tf_function"
    raise UnsupportedModelError(
        f"Cannot convert a {type(model).__module__}.{type(model).__name__}. "
        "Fix: pass a Keras 3 or tf-keras model, a SavedModel directory, a tf.function with "
        "an input_signature, or a concrete function."
    )


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", dtype)
    return str(name)


def _spec_from_tensor_spec(spec: Any, fallback_name: str) -> InputSpec:
    shape = spec.shape
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    name = getattr(spec, "name", None) or fallback_name
    return InputSpec(str(name), tuple(dims), _dtype_name(spec.dtype))


def input_specs(model: Any, kind: Kind, signature_key: str | None = None) -> list[InputSpec] | None:
    """Return the model's inputs in converter order, or ``None`` when unknown."""
    if kind in ("keras", "tf_keras"):
        try:
            tensors = list(model.inputs)
        except (AttributeError, ValueError):  # subclassed: no symbolic inputs
            return _subclassed_specs(model)
        return [
            InputSpec(
                str(getattr(t, "name", f"input_{i}")),
                tuple(t.shape.as_list() if hasattr(t.shape, "as_list") else t.shape),
                _dtype_name(t.dtype),
            )
            for i, t in enumerate(tensors)
        ]
    import tensorflow as tf

    if kind == "saved_model":
        loaded = tf.saved_model.load(str(model))
        key = signature_key or "serving_default"
        if key not in loaded.signatures:
            raise UnsupportedModelError(
                f"The SavedModel has no signature {key!r}; it has {sorted(loaded.signatures)}. "
                "Fix: pass signature_key= one of those."
            )
        _, kwargs = loaded.signatures[key].structured_input_signature
        return [_spec_from_tensor_spec(kwargs[name], name) for name in sorted(kwargs)]
    function = model.get_concrete_function() if kind == "tf_function" else model
    flat = tf.nest.flatten(function.structured_input_signature)
    specs = [s for s in flat if isinstance(s, tf.TensorSpec) and s.dtype != tf.resource]
    return [_spec_from_tensor_spec(s, f"input_{i}") for i, s in enumerate(specs)]


def _subclassed_specs(model: Any) -> list[InputSpec] | None:
    """Input of a called, single-input subclassed Keras 3 model (from its build shapes)."""
    shapes = getattr(model, "_build_shapes_dict", None)
    if not isinstance(shapes, dict) or len(shapes) != 1:
        return None
    ((name, shape),) = shapes.items()
    if not isinstance(shape, tuple) or not shape:
        return None
    dtype = str(getattr(model, "input_dtype", "float32"))
    return [InputSpec(name.removesuffix("_shape"), (None, *shape[1:]), dtype)]


def layer_classes(model: Any) -> list[str]:
    """Return the class names of a Keras model's layers (nested models flattened)."""
    names: list[str] = []
    for layer in getattr(model, "layers", []):
        names.append(type(layer).__name__)
        if hasattr(layer, "layers"):
            names.extend(layer_classes(layer))
    return names
