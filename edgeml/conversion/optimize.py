"""Optimization with tensorflow-model-optimization: QAT, pruning, clustering, strip.

tfmot only accepts tf-keras (Keras 2) models. These functions accept Keras 3
Sequential and functional models too: they rebuild them as tf-keras (config translated
layer by layer, weights copied by name, outputs checked equal to 1e-6) and log that they
did. Layers tfmot cannot handle are listed by name before any work is done
(:func:`check_optimizable`). The optimizations compose: ``prune`` or ``cluster`` a
model, fine-tune it, then ``quantize_aware`` it with tfmot's collaborative schemes that
keep the sparsity and the clusters through quantization-aware training.

tfmot is imported through :func:`edgeml.conversion._tfmot.tfmot`, which keeps its
import from changing what ``tf.keras`` means in the user's process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from edgeml._optional import require
from edgeml.conversion._rebuild import LayerIssue, rebuild_as_tf_keras, translate_layer
from edgeml.conversion._rebuild import translation_issues as _translation_issues
from edgeml.conversion._sources import kind_of
from edgeml.conversion._tfmot import tf_keras, tfmot
from edgeml.errors import UnsupportedModelError, invalid_argument

__all__ = [
    "LayerIssue",
    "check_optimizable",
    "cluster",
    "prune",
    "pruning_callbacks",
    "quantize_aware",
    "strip",
]

logger = logging.getLogger("edgeml.conversion")

Technique = Literal["quantize", "prune", "cluster"]
Preserve = Literal["auto", "none", "sparsity", "clusters", "sparse_clusters"]
_TECHNIQUES = ("quantize", "prune", "cluster")
_INITS = {
    "kmeans++": "KMEANS_PLUS_PLUS",
    "linear": "LINEAR",
    "density": "DENSITY_BASED",
    "random": "RANDOM",
}
_PRUNE_WRAPPERS = frozenset({"PruneLowMagnitude"})
_CLUSTER_WRAPPERS = frozenset({"ClusterWeights", "ClusterWeightsMHA"})
_QAT_WRAPPERS = frozenset({"QuantizeWrapper", "QuantizeWrapperV2", "QuantizeLayer"})


def _supports(technique: str) -> Callable[[Any], bool]:
    """Return tfmot's own "does this layer work" check for ``technique``."""
    module = tfmot()
    del module  # imported for its side effect on sys.modules (guarded above)
    if technique == "quantize":
        from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
            default_8bit_quantize_registry as registry,
        )

        quantize_registry = registry.Default8BitQuantizeRegistry()
        return lambda layer: bool(quantize_registry.supports(layer))
    if technique == "prune":
        from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

        return lambda layer: bool(prune_registry.PruneRegistry.supports(layer))
    from tensorflow_model_optimization.python.core.clustering.keras import clustering_registry

    return lambda layer: bool(clustering_registry.ClusteringRegistry.supports(layer))


# Layers tfmot's QAT handles through graph transforms rather than its registry.
_QUANTIZED_BY_TRANSFORM = frozenset({"SeparableConv1D", "SeparableConv2D", "Concatenate"})
_FOLDS_BATCHNORM = frozenset({"Conv2D", "DepthwiseConv2D", "Dense"})


def _predecessors(layer: Any) -> list[Any]:
    """Layers feeding ``layer`` (first call site), for Keras 3 and tf-keras layers."""
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return []
    node = nodes[0]
    inbound = getattr(node, "inbound_layers", None)
    if inbound is not None:  # tf-keras
        return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]
    return [t._keras_history.operation for t in getattr(node, "input_tensors", [])]


def _batchnorm_issue(layer: Any) -> str | None:
    before = _predecessors(layer)
    if (
        len(before) == 1
        and type(before[0]).__name__ in _FOLDS_BATCHNORM
        and before[0].get_config().get("activation") in ("linear", None)
    ):
        return None
    return (
        "tfmot quantizes BatchNormalization only right after a Conv2D, DepthwiseConv2D or "
        "Dense layer without activation (it folds them); move the activation after it"
    )


def _layer_list(model: Any) -> list[Any]:
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def check_optimizable(model: Any, technique: Technique = "quantize") -> list[LayerIssue]:
    """List the layers that an optimization cannot handle, without changing anything.

    Parameters
    ----------
    model : keras.Model or tf_keras.Model
        A Keras 3 (Sequential or functional) or tf-keras model.
    technique : {"quantize", "prune", "cluster"}, default "quantize"
        The optimization to check for.

    Returns
    -------
    list of LayerIssue
        One entry per problem layer (name, class, reason); empty when the model can be
        optimized.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
    ...                           keras.layers.Lambda(lambda x: 2 * x, name="double")])
    >>> [(issue.layer, issue.layer_class) for issue in check_optimizable(model)]
    [('double', 'Lambda')]
    """
    if technique not in _TECHNIQUES:
        raise invalid_argument("check_optimizable", "technique", technique, f"one of {_TECHNIQUES}")
    require("tensorflow", extra="tf", feature="Model optimization")  # else: the pip command
    kind = kind_of(model)
    if kind not in ("keras", "tf_keras"):
        raise UnsupportedModelError(
            f"Optimization needs a Keras model; got a {kind}. Fix: pass the Keras model."
        )
    supports = _supports(technique)
    issues: list[LayerIssue] = []
    if kind == "keras":
        issues.extend(_translation_issues(model))
        if issues and issues[0].reason.startswith("subclassed"):
            return issues
        failed = {issue.layer for issue in issues}
        layers = [
            (layer, translate_layer(layer)[0])
            for layer in _layer_list(model)
            if layer.name not in failed
        ]
    else:
        layers = [(layer, layer) for layer in _layer_list(model)]
    for original, layer in layers:
        name, class_name = original.name, type(original).__name__
        if class_name in _PRUNE_WRAPPERS | _CLUSTER_WRAPPERS | _QAT_WRAPPERS:
            continue
        if technique == "quantize" and class_name in _QUANTIZED_BY_TRANSFORM:
            continue
        if technique == "quantize" and class_name == "BatchNormalization":
            reason = _batchnorm_issue(original)
            if reason:
                issues.append(LayerIssue(name, class_name, reason))
            continue
        if hasattr(layer, "layers"):
            issues.append(
                LayerIssue(name, class_name, "nested model; flatten it into the outer model")
            )
        elif not supports(layer):
            issues.append(
                LayerIssue(name, class_name, f"tfmot has no {technique} support for {class_name}")
            )
    return issues


def _prepare(model: Any, technique: Technique, owner: str) -> Any:
    """Check the model for ``technique`` and return a tf-keras model to optimize."""
    issues = check_optimizable(model, technique)
    if issues:
        raise UnsupportedModelError(
            f"{owner} cannot handle {len(issues)} layer(s): "
            + "; ".join(map(str, issues))
            + ". Nothing was changed. Fix: replace or remove those layers."
        )
    if kind_of(model) == "keras":
        return rebuild_as_tf_keras(model)
    # tfmot wraps the very layer objects it is given, so fine-tuning the result would
    # silently change the caller's model: work on a copy.
    keras2 = tf_keras()
    copy = keras2.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _class_names(model: Any) -> set[str]:
    return {type(layer).__name__ for layer in model.layers}


def strip(model: Any) -> Any:
    """Remove pruning and clustering wrappers, keeping the optimized weights.

    Call it before saving or converting a model returned by :func:`prune` or
    :func:`cluster` (``convert`` does it for you). Quantization-aware models need no
    stripping: the converter reads their quantization ranges.

    Parameters
    ----------
    model : tf_keras.Model
        A model with ``prune_low_magnitude`` or ``cluster_weights`` wrappers.

    Returns
    -------
    tf_keras.Model
        The same architecture with plain layers and the final (sparse or clustered)
        weights.
    """
    module = tfmot()
    stripped = module.sparsity.keras.strip_pruning(model)
    return module.clustering.keras.strip_clustering(stripped)


def pruning_callbacks() -> list[Any]:
    """Return the callbacks ``fit`` needs while training a :func:`prune` model.

    Returns
    -------
    list
        ``[tfmot.sparsity.keras.UpdatePruningStep()]``, which advances the pruning
        schedule every batch (fit raises without it).
    """
    return [tfmot().sparsity.keras.UpdatePruningStep()]


def prune(
    model: Any,
    *,
    target_sparsity: float,
    schedule: Literal["constant", "polynomial"] | Any = "constant",
    begin_step: int = 0,
    end_step: int | None = None,
    frequency: int = 20,
) -> Any:
    """Wrap a model for magnitude pruning (weights set to zero during fine-tuning).

    Fine-tune the result with ``callbacks=pruning_callbacks()``, then :func:`strip` it
    (``convert`` does). Zeros compress well: compare ``report.gzip_bytes``.

    Parameters
    ----------
    model : keras.Model or tf_keras.Model
        A trained model; Keras 3 models are rebuilt as tf-keras (logged).
    target_sparsity : float
        Fraction of each pruned weight tensor set to zero, in (0, 1).
    schedule : {"constant", "polynomial"} or tfmot PruningSchedule, default "constant"
        ``"constant"`` prunes to ``target_sparsity`` from ``begin_step`` on;
        ``"polynomial"`` ramps from 0 to it between ``begin_step`` and ``end_step``.
    begin_step, end_step : int
        Training steps (batches) where pruning starts and, for ``"polynomial"``, ends.
    frequency : int, default 20
        Steps between pruning updates (tfmot's default, 100, never prunes a short
        fine-tune of fewer than 100 batches).

    Returns
    -------
    tf_keras.Model
        The wrapped model (uncompiled).

    Raises
    ------
    UnsupportedModelError
        When some layers cannot be pruned (all of them are listed).
    """
    if (
        isinstance(target_sparsity, bool)
        or not isinstance(target_sparsity, (int, float, np.floating))
        or not 0.0 < float(target_sparsity) < 1.0
    ):
        raise invalid_argument("prune", "target_sparsity", target_sparsity, "a float in (0, 1)")
    module = tfmot()
    sparsity = module.sparsity.keras
    if schedule == "constant":
        pruning_schedule = sparsity.ConstantSparsity(
            float(target_sparsity), begin_step=begin_step, frequency=frequency
        )
    elif schedule == "polynomial":
        if end_step is None or end_step <= begin_step:
            raise invalid_argument(
                "prune",
                "end_step",
                end_step,
                f"an integer > begin_step ({begin_step}) with schedule='polynomial'",
                fix="set end_step to the number of fine-tuning batches",
            )
        pruning_schedule = sparsity.PolynomialDecay(
            initial_sparsity=0.0,
            final_sparsity=float(target_sparsity),
            begin_step=begin_step,
            end_step=end_step,
            frequency=frequency,
        )
    elif isinstance(schedule, sparsity.PruningSchedule):
        pruning_schedule = schedule
    else:
        raise invalid_argument(
            "prune", "schedule", schedule, "'constant', 'polynomial' or a PruningSchedule"
        )
    base = _prepare(model, "prune", "prune")
    return sparsity.prune_low_magnitude(base, pruning_schedule=pruning_schedule)


def cluster(
    model: Any,
    *,
    n_clusters: int,
    init: Literal["kmeans++", "linear", "density", "random"] = "kmeans++",
    preserve_sparsity: bool = False,
) -> Any:
    """Wrap a model for weight clustering (each kernel shares ``n_clusters`` values).

    Fine-tune the result briefly, then :func:`strip` it (``convert`` does). Shared
    values compress well: compare ``report.gzip_bytes``.

    Parameters
    ----------
    model : keras.Model or tf_keras.Model
        A trained model; Keras 3 models are rebuilt as tf-keras (logged).
    n_clusters : int
        Distinct values per weight tensor, >= 2.
    init : {"kmeans++", "linear", "density", "random"}, default "kmeans++"
        How the centroids start.
    preserve_sparsity : bool, default False
        Keep zeros of a pruned model at zero (sparsity-preserving clustering).

    Returns
    -------
    tf_keras.Model
        The wrapped model (uncompiled).

    Raises
    ------
    UnsupportedModelError
        When some layers cannot be clustered (all listed), or when tfmot returns no
        model (it returns ``None`` instead of raising on Keras 3 objects).
    """
    if (
        isinstance(n_clusters, bool)
        or not isinstance(n_clusters, (int, np.integer))
        or n_clusters < 2
    ):
        raise invalid_argument("cluster", "n_clusters", n_clusters, "an integer >= 2")
    if init not in _INITS:
        raise invalid_argument("cluster", "init", init, f"one of {sorted(_INITS)}")
    module = tfmot()
    base = _prepare(model, "cluster", "cluster")
    clustering = module.clustering.keras
    clustered = clustering.cluster_weights(
        base,
        number_of_clusters=int(n_clusters),
        cluster_centroids_init=getattr(clustering.CentroidInitialization, _INITS[init]),
        preserve_sparsity=bool(preserve_sparsity),
    )
    if clustered is None:  # tfmot's answer to objects it does not recognize
        raise UnsupportedModelError(
            "tensorflow-model-optimization returned no model for cluster_weights. Fix: pass "
            "a tf-keras or Keras 3 Sequential/functional model."
        )
    return clustered


def _kernels(model: Any) -> list[np.ndarray]:
    return [
        np.asarray(w)
        for layer in model.layers
        for w in layer.get_weights()
        if np.asarray(w).ndim >= 2 and np.asarray(w).size >= 64
    ]


def _detect_preserve(model: Any) -> str:
    """Guess which structure a stripped model's kernels have: zeros, clusters, both."""
    kernels = _kernels(model)
    if not kernels:
        return "none"
    sparse = np.mean([np.mean(k == 0) for k in kernels]) >= 0.3
    clustered = all(len(np.unique(k)) <= 256 and len(np.unique(k)) < k.size / 4 for k in kernels)
    if sparse and clustered:
        return "sparse_clusters"
    if clustered:
        return "clusters"
    return "sparsity" if sparse else "none"


def _calibrate(model: Any, data: Any, batch_size: int, limit: int) -> int:
    """Run training-mode forward passes so the quantizers learn their ranges.

    Only the quantizers' min/max variables may change: every other non-trainable
    variable (BatchNorm statistics) is restored afterwards.
    """
    x = np.asarray(data)[:limit]
    keep = [
        (v, v.numpy())
        for v in model.non_trainable_variables
        if not v.name.split("/")[-1].split(":")[0].endswith(("_min", "_max", "optimizer_step"))
    ]
    for start in range(0, len(x), batch_size):
        model(x[start : start + batch_size], training=True)
    for variable, value in keep:
        variable.assign(value)
    return len(x)


def quantize_aware(
    model: Any,
    *,
    calibration_data: Any = None,
    preserve: Preserve = "auto",
    num_calibration_samples: int = 512,
) -> Any:
    """Wrap a model for quantization-aware training (fake int8 quantization in training).

    A freshly wrapped model predicts poorly until its quantizers have seen data: pass
    ``calibration_data`` (a few hundred training inputs) to set their ranges now, or
    fine-tune it before use. Then ``convert(model, quantization="int8")`` needs no
    representative data.

    Parameters
    ----------
    model : keras.Model or tf_keras.Model
        A trained model, possibly from :func:`prune` or :func:`cluster`; Keras 3 models
        are rebuilt as tf-keras (logged).
    calibration_data : array_like, optional
        Inputs run through the model in training mode, ``num_calibration_samples`` at most,
        to initialize the quantization ranges (other variables are left unchanged).
    preserve : {"auto", "none", "sparsity", "clusters", "sparse_clusters"}, default "auto"
        Collaborative optimization: keep the zeros of a pruned model and/or the shared
        values of a clustered model during QAT. ``"auto"`` looks at the kernels.
    num_calibration_samples : int, default 512
        Maximum number of calibration inputs.

    Returns
    -------
    tf_keras.Model
        The quantization-aware model (uncompiled).

    Raises
    ------
    UnsupportedModelError
        When some layers cannot be quantized (all listed, nothing changed).
    """
    allowed = ("auto", "none", "sparsity", "clusters", "sparse_clusters")
    if preserve not in allowed:
        raise invalid_argument("quantize_aware", "preserve", preserve, f"one of {allowed}")
    if (
        isinstance(num_calibration_samples, bool)
        or not isinstance(num_calibration_samples, (int, np.integer))
        or num_calibration_samples < 1
    ):
        raise invalid_argument(
            "quantize_aware", "num_calibration_samples", num_calibration_samples, "an integer >= 1"
        )
    module = tfmot()
    if _class_names(model) & (_PRUNE_WRAPPERS | _CLUSTER_WRAPPERS):
        model = strip(model)
    base = _prepare(model, "quantize", "quantize_aware")
    scheme = _detect_preserve(base) if preserve == "auto" else preserve
    quantization = module.quantization.keras
    if scheme == "none":
        quantized = quantization.quantize_model(base)
    else:
        if scheme == "sparsity":
            quantize_scheme = quantization.collab_opts.Default8BitPrunePreserveQuantizeScheme()
        else:
            quantize_scheme = module.experimental.combine.Default8BitClusterPreserveQuantizeScheme(
                preserve_sparsity=scheme == "sparse_clusters"
            )
        logger.info("Quantization-aware training preserves %s.", scheme.replace("_", " "))
        annotated = quantization.quantize_annotate_model(base)
        quantized = quantization.quantize_apply(annotated, quantize_scheme)
    if calibration_data is not None:
        _calibrate(quantized, calibration_data, batch_size=32, limit=int(num_calibration_samples))
    else:
        logger.warning(
            "The quantization-aware model's ranges are not calibrated yet: it predicts "
            "poorly until fit() has run. Pass calibration_data= to calibrate them now."
        )
    return quantized
