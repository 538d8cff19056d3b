"""Whether a Keras model can be trained with DP-SGD: by layer type and by behaviour.

Layers that mix the examples of a batch void per-example clipping; statistics adapted
from the data and stored in the model are released unprotected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeml._optional import require
from edgeml.errors import UnsupportedModelError
from edgeml.privacy import _ghost
from edgeml.privacy._keras import flavor_of

tf = require("tensorflow", extra="tf", feature="DP-SGD (edgeml.privacy.make_private)")

logger = logging.getLogger("edgeml.privacy")

__all__ = ["validate_model"]


def validate_model(
    model: Any, *, strict: bool = True, public_statistics: Sequence[str] = ()
) -> list[str]:
    """Check that a Keras model can be trained with DP-SGD.

    Refused: layers that mix examples within a batch, found two ways: by type
    (BatchNormalization in training mode, activity regularizers: a penalty on the
    batch's activations that is not clipped per example) and by behaviour, whatever the
    layers are called: in training mode, on random inputs, the model's output for a
    batch must equal its outputs for each example alone (within float32 tolerance).
    When the model is random in training mode (dropout, noise layers), the check is
    instead that the gradient of one example's output with respect to the other
    examples' float inputs is zero (plus the comparison in inference mode for integer
    inputs). Also refused: ``Normalization`` layers whose mean and variance came from
    ``adapt()`` (statistics of the data, presumably the private training data, released
    with the weights and not protected by DP-SGD) unless named in
    ``public_statistics``, weights that belong to no layer, and models without
    trainable weights. A model whose inputs cannot be generated (no ``Input`` shape,
    string inputs) is not checked for mixing; a warning says so.

    Parameters
    ----------
    model : keras.Model
        A built Keras model.
    strict : bool, default True
        Raise on the first call if there are problems; otherwise return them.
    public_statistics : sequence of str, default ()
        Names of adapted preprocessing layers whose statistics come from public data
        (or data held out of the private set), which may therefore be released.

    Returns
    -------
    list of str
        One message per problem; empty when the model is fine.

    Raises
    ------
    UnsupportedModelError
        When ``strict`` and there is a problem.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
    ...                           keras.layers.BatchNormalization(name="bn"),
    ...                           keras.layers.Dense(2)])
    >>> print(validate_model(model, strict=False)[0][:50])
    Layer 'bn' is a BatchNormalization layer in traini
    """
    flavor_of(model)
    problems: list[str] = []
    layers = list(model._flatten_layers(include_self=False, recursive=True))
    public = set(public_statistics)
    for layer in layers:
        names = {cls.__name__ for cls in type(layer).__mro__}
        if names & {"BatchNormalization", "SyncBatchNormalization"} and layer.trainable:
            problems.append(
                f"Layer {layer.name!r} is a BatchNormalization layer in training mode: it "
                "normalizes each example with statistics of the whole batch, so one "
                "example's gradient depends on the others and clipping it no longer bounds "
                "its influence (the privacy guarantee would be void). Use "
                "LayerNormalization or GroupNormalization instead, or freeze it "
                "(layer.trainable = False) so it runs in inference mode."
            )
        if getattr(layer, "activity_regularizer", None) is not None:
            problems.append(
                f"Layer {layer.name!r} has an activity regularizer, a penalty on the "
                "batch's activations whose gradient is not clipped per example. Remove it "
                "or use a weight regularizer."
            )
        adapted = _adapted_statistics(layer)
        if adapted is not None and layer.name not in public:
            kind, what, fix = adapted
            problems.append(
                f"Layer {layer.name!r} is a {kind} layer whose {what} came from adapt() "
                "on data: they are stored in the model and released with it, and DP-SGD "
                f"does not protect them. Fix: build it with {fix} from public knowledge or "
                "DP estimates (edgeml.privacy.dp_mean, dp_quantile, dp_histogram), or, if "
                "it was adapted on public or held-out data, pass "
                f"public_statistics=[{layer.name!r}]."
            )
    try:
        _ghost.plan_layers(model)
    except UnsupportedModelError as exc:
        problems.append(str(exc))
    mixing = _batch_mixing(model)
    if mixing is not None:
        problems.append(mixing)
    if problems and strict:
        raise UnsupportedModelError(
            "The model cannot be trained with DP-SGD:\n- " + "\n- ".join(problems)
        )
    return problems


# Preprocessing layers that store statistics of the data they were adapted on:
# class name in the layer's MRO -> (shown name, what they store, how to build them instead).
_ADAPTABLE = {
    "Normalization": (
        "Normalization",
        "mean and variance",
        "Normalization(mean=..., variance=...)",
    ),
    "Discretization": ("Discretization", "bin boundaries", "Discretization(bin_boundaries=...)"),
    "IndexLookup": ("lookup", "vocabulary", "StringLookup/IntegerLookup(vocabulary=...)"),
    "TextVectorization": ("TextVectorization", "vocabulary", "TextVectorization(vocabulary=...)"),
}


def _adapted_statistics(layer: Any) -> tuple[str, str, str] | None:
    """Return ``(kind, what, fix)`` when ``layer`` holds statistics that adapt() computed.

    tf-keras records ``is_adapted``; Keras 3 does not, so there a layer counts as adapted
    when it was not given its statistics at construction (mean and variance, bin
    boundaries, a vocabulary) yet holds some.
    """
    names = {cls.__name__ for cls in type(layer).__mro__}
    key = next((name for name in _ADAPTABLE if name in names), None)
    if key is None:
        return None
    found = _ADAPTABLE[key]
    if key == "Normalization" and getattr(layer, "input_mean", None) is not None:
        return None  # built with mean= and variance=
    adapted = getattr(layer, "is_adapted", None)
    if adapted is not None:
        return found if adapted else None
    if key == "Normalization":
        return found if layer.built else None
    if key == "Discretization":
        return found if getattr(layer, "num_bins", None) is not None else None
    if key == "IndexLookup":
        if getattr(layer, "input_vocabulary", None) is not None:
            return None
        special = int(getattr(layer, "num_oov_indices", 1)) + (
            getattr(layer, "mask_token", None) is not None
        )
        return found if int(layer.vocabulary_size()) > special else None
    if getattr(layer, "_has_input_vocabulary", False):  # TextVectorization
        return None
    return found if int(layer.vocabulary_size()) > 2 else None  # "" and "[UNK]" alone


_MIXING_BATCH = 4


def _random_inputs(model: Any, rng: np.random.Generator, counts: bool) -> list[Any] | None:
    """Random inputs for ``model`` (one array per input), or ``None`` if unknown.

    ``counts`` draws 0 or 1 even for float inputs (which may feed an ``Embedding``).
    """
    specs = getattr(model, "inputs", None)
    if not specs or not isinstance(specs, (list, tuple)):
        return None
    arrays = []
    for spec in specs:
        dims = [3 if d is None else int(d) for d in list(spec.shape)[1:]]
        dtype = str(getattr(spec.dtype, "name", spec.dtype))
        if "float" in dtype and not counts:
            arrays.append(rng.normal(size=(_MIXING_BATCH, *dims)).astype(dtype))
        elif "int" in dtype or "float" in dtype:
            arrays.append(rng.integers(0, 2, size=(_MIXING_BATCH, *dims)).astype(dtype))
        else:
            return None
    return arrays


def _batch_mixing(model: Any) -> str | None:
    """Return why the model mixes examples within a batch, or ``None`` if it does not.

    Looks at what the model does, not at layer names: see :func:`validate_model`.
    """
    first_error: Exception | None = None
    for counts in (False, True):
        arrays = _random_inputs(model, np.random.default_rng(0), counts)
        if arrays is None:
            break
        try:
            return _mixing_on(model, arrays)
        except Exception as exc:  # any failure here only means "could not check"
            first_error = first_error or exc
    if first_error is not None:
        logger.warning(
            "validate_model could not run %s on random inputs to check that its layers "
            "keep the examples of a batch apart (%s: %s).",
            getattr(model, "name", "the model"),
            type(first_error).__name__,
            first_error,
        )
    else:
        logger.warning(
            "validate_model could not build random inputs for %s (no Input shape, or "
            "non-numeric inputs), so it did not check that its layers keep the examples "
            "of a batch apart; DP-SGD's guarantee needs that.",
            getattr(model, "name", "the model"),
        )
    return None


def _mixing_on(model: Any, arrays: list[Any]) -> str | None:
    """Compare the model on a batch and on each example alone (see :func:`_batch_mixing`)."""

    def run(parts: list[Any], training: bool) -> list[Any]:
        inputs = parts[0] if len(parts) == 1 else parts
        return [np.asarray(o) for o in tf.nest.flatten(model(inputs, training=training))]

    def part(index: int) -> list[Any]:
        return [a[index : index + 1] for a in arrays]

    batch = run(arrays, True)
    random_in_training = any(
        not np.array_equal(a, b) for a, b in zip(batch, run(arrays, True), strict=True)
    )
    if random_in_training:
        mixed = _gradient_mixing(model, arrays)
        training = False
        batch = run(arrays, False)
    else:
        mixed = None
        training = True
    if mixed is None:
        for index in range(_MIXING_BATCH):
            alone = run(part(index), training)
            for whole, single in zip(batch, alone, strict=True):
                row = whole[index : index + 1]
                scale = max(1.0, float(np.max(np.abs(row))) if row.size else 1.0)
                if not np.allclose(row, single, rtol=1e-3, atol=1e-4 * scale):
                    gap = float(np.max(np.abs(row - single)))
                    mixed = (
                        f"on example {index} of a random batch of {_MIXING_BATCH}, the "
                        f"output differs from the output for that example alone by up "
                        f"to {gap:.3g}"
                    )
                    break
            if mixed is not None:
                break
    if mixed is None:
        return None
    mode = "training" if training else "inference"
    return (
        f"The model mixes examples within a batch ({mode} mode): {mixed}. Some layer "
        "computes across the batch (a batch mean, a normalization over the batch axis, "
        "...), so one example changes the others' gradients and clipping each gradient "
        "no longer bounds that example's influence; the privacy guarantee would be void. "
        "Fix: make every layer work on each example separately (e.g. LayerNormalization "
        "instead of normalizing over the batch)."
    )


def _gradient_mixing(model: Any, arrays: list[Any]) -> str | None:
    """Say whether example 0's output depends on the other examples' float inputs.

    For models that are random in training mode: dropout masks and added noise do not
    depend on the inputs, so they leave these gradients at zero.
    """
    inputs = [tf.constant(a) for a in arrays]
    floats = [t for t in inputs if t.dtype.is_floating]
    if not floats:
        return None
    with tf.GradientTape() as tape:
        tape.watch(floats)
        outputs = tf.nest.flatten(model(inputs[0] if len(inputs) == 1 else inputs, training=True))
        rng = np.random.default_rng(1)
        first = tf.add_n(
            [
                tf.reduce_sum(
                    tf.cast(o[0], tf.float32) * rng.normal(size=o.shape[1:]).astype("float32")
                )
                for o in outputs
            ]
        )
    for grad in tape.gradient(first, floats):
        if grad is None:
            continue
        values = np.asarray(grad)
        own = float(np.max(np.abs(values[0]))) if values[0].size else 0.0
        others = float(np.max(np.abs(values[1:])))
        if others > 1e-6 + 1e-4 * own:
            return (
                f"the gradient of example 0's output with respect to the other examples' "
                f"inputs reaches {others:.3g} (with respect to its own: {own:.3g})"
            )
    return None
