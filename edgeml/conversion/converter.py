"""``convert``: a Keras model, SavedModel or tf.function to a checked ``.tflite`` model.

Each kind of source takes the path that converts it correctly on TensorFlow 2.21:
Keras 3 and tf-keras models go through ``TFLiteConverter.from_keras_model`` (for Keras
3 it exports the inference call itself; ``tf.saved_model.save`` on a Keras 3 model
would convert to a model that outputs NaN), SavedModel directories through
``from_saved_model``, functions through ``from_concrete_functions``. Only LiteRT's
builtin ops are allowed unless ``allow_flex=True``.

After conversion the result is checked, not trusted: input/output types must be the
ones asked for, the ops that still compute in float are listed, Flex ops are named, and
one sample is run through both the source and the converted model to catch
conversions that output NaN or wrong values (such as a Keras 3 model saved with
``tf.saved_model.save``). The model
then gets an ``edgeml`` metadata entry (versions, this report, SHA-256 of the weights).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from edgeml._optional import require
from edgeml.conversion import metadata as _metadata
from edgeml.conversion._calibration import calibration_protection, collect_samples, replay
from edgeml.conversion._interpret import predict
from edgeml.conversion._quiet import quiet_tensorflow
from edgeml.conversion._sources import InputSpec, Kind, input_specs, kind_of, layer_classes
from edgeml.conversion.model import TFLiteModel
from edgeml.conversion.report import ConversionReport, analyze
from edgeml.errors import ConfigError, UnsupportedModelError, invalid_argument
from edgeml.typing import ConvertibleModel

__all__ = ["IO_TYPES", "QUANTIZATION_MODES", "convert"]

logger = logging.getLogger("edgeml.conversion")

Quantization = Literal["dynamic", "int8", "float16", "int16x8", "int4-weights"]
IO = Literal["float", "int8", "uint8", "int16"]

#: Quantization modes and what they do.
QUANTIZATION_MODES: dict[str, str] = {
    "none": "float32 weights and activations",
    "dynamic": "int8 weights, float activations quantized on the fly (no calibration)",
    "float16": "float16 weights, float32 compute",
    "int8": "int8 weights and activations, calibrated on representative data",
    "int16x8": "int8 weights, int16 activations (more precise), calibrated",
    "int4-weights": "int4 per-channel weights, float activations (ai-edge-quantizer)",
}
#: Allowed ``io`` values per quantization mode.
IO_TYPES: dict[str, tuple[str, ...]] = {
    "none": ("float",),
    "dynamic": ("float",),
    "float16": ("float",),
    "int8": ("float", "int8", "uint8"),
    "int16x8": ("float", "int16"),
    "int4-weights": ("float",),
}
_QAT_LAYERS = frozenset({"QuantizeWrapper", "QuantizeWrapperV2", "QuantizeLayer"})
_STRIPPABLE = frozenset({"PruneLowMagnitude", "ClusterWeights", "ClusterWeightsMHA"})


def _validate(
    quantization: str | None, io: str, num_calibration_samples: int, data: Any, is_qat: bool
) -> str:
    mode = "none" if quantization is None else quantization
    if mode not in QUANTIZATION_MODES:
        raise invalid_argument(
            "convert",
            "quantization",
            quantization,
            f"None or one of {sorted(set(QUANTIZATION_MODES) - {'none'})}",
        )
    if io not in IO_TYPES[mode]:
        raise invalid_argument(
            "convert",
            "io",
            io,
            f"one of {IO_TYPES[mode]} when quantization={quantization!r}",
            fix="integer I/O needs quantization='int8' (int8/uint8) or 'int16x8' (int16)",
        )
    if (
        isinstance(num_calibration_samples, bool)
        or not isinstance(num_calibration_samples, (int, np.integer))
        or num_calibration_samples < 1
    ):
        raise invalid_argument(
            "convert", "num_calibration_samples", num_calibration_samples, "an integer >= 1"
        )
    calibrated = mode in ("int8", "int16x8")
    if calibrated and data is None and not (is_qat and mode == "int8"):
        raise ConfigError(
            f"quantization={mode!r} calibrates activation ranges and needs "
            "representative_data (a few hundred training inputs). Fix: pass "
            "representative_data=x_train[:300], or use quantization='dynamic' which needs "
            "no data."
        )
    if data is not None and not calibrated:
        raise invalid_argument(
            "convert",
            "representative_data",
            type(data).__name__,
            f"None when quantization={quantization!r} (only 'int8' and 'int16x8' calibrate)",
            fix="drop representative_data, or use quantization='int8'",
        )
    return mode


def _int4_weights(model_bytes: bytes) -> bytes:
    """Quantize a float model's weights to int4 with ai-edge-quantizer (weight-only)."""
    quantizer = require(
        "ai_edge_quantizer.quantizer",
        extra="quantizer",
        feature="quantization='int4-weights'",
    )
    recipes = require(
        "ai_edge_quantizer.recipe", extra="quantizer", feature="quantization='int4-weights'"
    )
    engine = quantizer.Quantizer(model_bytes, recipes.weight_only_wi4_afp32())
    result = engine.quantize(enable_progress_report=False)
    return bytes(result.quantized_model)


def _make_converter(tf: Any, model: Any, kind: Kind, signature_key: str | None) -> Any:
    lite = tf.lite.TFLiteConverter
    if kind in ("keras", "tf_keras"):
        return lite.from_keras_model(model)
    if kind == "saved_model":
        return lite.from_saved_model(
            str(model), signature_keys=[signature_key or "serving_default"]
        )
    function = model.get_concrete_function() if kind == "tf_function" else model
    return lite.from_concrete_functions([function])


def _configure(
    tf: Any,
    converter: Any,
    mode: str,
    io: str,
    *,
    allow_flex: bool,
    allow_float_fallback: bool,
    learned_ranges: bool,
) -> None:
    ops = tf.lite.OpsSet
    supported = [ops.TFLITE_BUILTINS]
    if mode not in ("none", "int4-weights"):  # int4 starts from the float model
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8" and not learned_ranges:
        supported = [ops.TFLITE_BUILTINS_INT8]
        if allow_float_fallback:
            supported.append(ops.TFLITE_BUILTINS)
    if mode == "int16x8":
        supported = [ops.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        if allow_float_fallback:
            supported.append(ops.TFLITE_BUILTINS)
    if allow_flex:
        supported.append(ops.SELECT_TF_OPS)
    converter.target_spec.supported_ops = supported
    if io != "float":
        io_type = {"int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16}[io]
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type


def _conversion_error(exc: Exception, mode: str) -> UnsupportedModelError:
    text = str(exc)
    ops = sorted(set(re.findall(r"'tf\.(\w+)' op", text)))
    errors = re.findall(r"error: ([^\n]+)", text)
    first = errors[0] if errors else (text.strip().splitlines() or [type(exc).__name__])[0]
    if re.search(r"flex op|select tf|select_tf_ops", text, flags=re.IGNORECASE):
        return UnsupportedModelError(
            "The model needs TensorFlow ops that LiteRT's builtin kernels do not have: "
            f"{', '.join(ops) or 'see the log'}. Fix: replace those ops, or pass "
            "allow_flex=True (the interpreter on the device must then be built with the "
            "Flex delegate, which adds several MB)."
        )
    if mode in ("int8", "int16x8") and (ops or "is not supported" in text):
        return UnsupportedModelError(
            f"Full-integer ({mode}) conversion failed: {first} Some ops have no integer "
            "kernel. Fix: pass allow_float_fallback=True to keep them in float (the report "
            "lists them), or quantization='dynamic'."
        )
    return UnsupportedModelError(f"The TFLite converter failed: {first}")


def _expected_io_dtype(io: str) -> str | None:
    return {"float": "float32", "int8": "int8", "uint8": "uint8", "int16": "int16"}.get(io)


def _check_result(
    report: ConversionReport, mode: str, io: str, allow_float_fallback: bool
) -> list[str]:
    warnings: list[str] = []
    expected = _expected_io_dtype(io)
    numeric = {"float32", "float16", "int8", "uint8", "int16"}
    wrong = [
        f"{t.name} is {t.dtype}"
        for t in (*report.inputs, *report.outputs)
        if t.dtype in numeric and t.dtype != expected
    ]
    if wrong:
        raise UnsupportedModelError(
            f"The converted model's inputs/outputs are not {expected} as io={io!r} asked: "
            f"{'; '.join(wrong)}. The converter ignored the request; the model was not "
            "returned because code expecting that type would misread it."
        )
    if mode in ("int8", "int16x8") and report.float_ops and not allow_float_fallback:
        raise UnsupportedModelError(
            f"Full-integer ({mode}) conversion kept {len(report.float_ops)} op(s) in float: "
            f"{', '.join(report.float_ops[:10])}. They have no integer kernel, so an "
            "integer-only device (microcontroller, NPU) could not run the model. Fix: "
            "replace those ops, or pass allow_float_fallback=True to accept float ops (the "
            "report lists them)."
        )
    if mode in ("int8", "int16x8") and report.float_ops:
        warnings.append(
            f"{len(report.float_ops)} op(s) stayed float: {', '.join(report.float_ops[:10])}"
            + (" ..." if len(report.float_ops) > 10 else "")
        )
    if report.flex_ops:
        message = (
            f"The model uses TensorFlow (Flex) ops {', '.join(report.flex_ops)}: the device's "
            "interpreter must be built with the Flex delegate."
        )
        warnings.append(message)
    return warnings


# Largest output difference (relative to the output's scale) between the source model
# and its conversion on one in-distribution sample before the result is called suspect.
_AGREEMENT_TOLERANCE = {
    "none": 1e-3,
    "float16": 0.02,
    "dynamic": 0.1,
    "int16x8": 0.1,
    "int8": 0.25,
    "int4-weights": 0.25,
}


def _check_sample(report: ConversionReport, samples: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Return one input for both models: a calibration sample, else seeded noise."""
    if samples:
        return samples[0]
    rng = np.random.default_rng(0)
    sample = []
    for tensor in report.inputs:
        shape = [1 if d == -1 else d for d in tensor.shape]
        floating = tensor.dtype.startswith("float") or tensor.scale is not None
        sample.append(
            rng.normal(size=shape).astype(np.float32)
            if floating
            else np.zeros(shape, dtype=np.dtype(tensor.dtype))
        )
    return sample


def _single(value: Any) -> np.ndarray | None:
    """Return the only output of a model call as an array (None for several outputs)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            return None
        value = value[0]
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def _source_output(
    tf: Any, model: Any, kind: Kind, sample: list[np.ndarray], signature_key: str | None
) -> np.ndarray | None:
    """Run the source model on ``sample`` (single-input models only)."""
    if len(sample) != 1:
        return None
    if kind in ("keras", "tf_keras"):
        return _single(model(sample[0], training=False))
    if kind == "saved_model":
        function = tf.saved_model.load(str(model)).signatures[signature_key or "serving_default"]
        (name,) = function.structured_input_signature[1]
        return _single(function(**{name: tf.constant(sample[0])}))
    function = model.get_concrete_function() if kind == "tf_function" else model
    return _single(function(tf.constant(sample[0])))


def _agreement_warnings(
    tf: Any,
    model: Any,
    kind: Kind,
    model_bytes: bytes,
    report: ConversionReport,
    samples: list[list[np.ndarray]],
    signature_key: str | None,
) -> list[str]:
    """Run one sample through source and conversion; describe NaN or disagreement."""
    sample = _check_sample(report, samples)
    try:
        converted = predict(model_bytes, sample)
    except Exception as exc:  # e.g. Flex ops: this interpreter has no Flex delegate
        logger.debug("Output check skipped: %s", exc)
        return []
    hint = (
        " If this SavedModel was written by tf.saved_model.save from a Keras 3 model, "
        "convert the Keras model itself (or a model.export(...) directory) instead."
    )
    if any(np.isnan(o).any() for o in converted if np.issubdtype(o.dtype, np.floating)):
        return ["The converted model outputs NaN on a sample input." + hint]
    try:
        with quiet_tensorflow():
            expected = _source_output(tf, model, kind, sample, signature_key)
    except Exception as exc:
        logger.debug("Output check skipped: %s", exc)
        return []
    if expected is None or expected.shape != converted[0].shape:
        return []
    scale = max(float(np.abs(expected).max()), 1e-3)
    difference = float(np.abs(expected - converted[0]).max()) / scale
    tolerance = _AGREEMENT_TOLERANCE[report.mode]
    if difference > tolerance:
        return [
            f"On a sample input the converted model's output differs from the source "
            f"model's by {difference:.3g} of the output's scale (expected at most "
            f"{tolerance} for {report.mode!r}); the conversion is suspect." + hint
        ]
    return []


def convert(
    model: ConvertibleModel,
    *,
    quantization: Quantization | None = None,
    representative_data: Any = None,
    io: IO = "float",
    num_calibration_samples: int = 300,
    allow_flex: bool = False,
    allow_float_fallback: bool = False,
    signature_key: str | None = None,
    seed: int | None = 0,
) -> TFLiteModel:
    """Convert a model to TensorFlow Lite / LiteRT, quantize it, and check the result.

    Parameters
    ----------
    model : Keras model, str or os.PathLike, tf.function or ConcreteFunction
        A Keras 3 or tf-keras model (Sequential, functional, or subclassed and called
        at least once), a SavedModel directory, a ``tf.function`` with an
        ``input_signature``, or a concrete function. tf-keras models from
        :func:`prune` / :func:`cluster` are stripped of their wrappers first.
    quantization : {None, "dynamic", "float16", "int8", "int16x8", "int4-weights"}
        See ``QUANTIZATION_MODES``; default None (float32). ``"int8"`` and
        ``"int16x8"`` need ``representative_data`` (except a quantization-aware trained
        model with ``"int8"``, whose ranges were learned). ``"int4-weights"`` stores
        weights as int4 (per output channel) with float compute, through
        ai-edge-quantizer (``pip install ai-edge-quantizer``).
    representative_data : array, sequence of arrays, tf.data.Dataset, generator, optional
        Inputs used to calibrate ranges (``(x, y)`` elements are accepted; labels are
        ignored). Batched or single samples. The calibrated scales and zero points are
        exact statistics of these inputs and travel in the model file: wrap the data to
        say what protects them, and ``report.calibration_privacy`` records it:
        ``edgeml.privacy.declare(x, kind="public" | "held-out", source=...)`` for data
        you may release, or rows from a DP release such as
        ``edgeml.privacy.dp_baseline(...).sample(300)``. Bare arrays are recorded as
        ``"not protected"`` (with a warning): one training record can change the scales.
    io : {"float", "int8", "uint8", "int16"}, default "float"
        Type of the model's inputs and outputs. Integer I/O removes the float
        conversion at the edges (what microcontrollers want); ``"int8"``/``"uint8"``
        need ``quantization="int8"``, ``"int16"`` needs ``"int16x8"``.
    num_calibration_samples : int, default 300
        At most this many samples are used (a seeded random subset of arrays).
    allow_flex : bool, default False
        Allow TensorFlow (Flex) ops for what LiteRT's builtins cannot express; the
        device's interpreter must then include the Flex delegate.
    allow_float_fallback : bool, default False
        For ``"int8"``/``"int16x8"``: accept ops without an integer kernel in float
        (listed in ``report.float_ops`` and warned about). Without it such a model is
        refused, even when TensorFlow's converter silently kept the op in float.
    signature_key : str, optional
        The SavedModel signature to convert (default ``"serving_default"``).
    seed : int or None, default 0
        Seed of the calibration subset drawn from arrays.

    Returns
    -------
    TFLiteModel
        The model with its :class:`ConversionReport` and an ``edgeml`` metadata entry.

    Raises
    ------
    ConfigError
        For invalid or inconsistent arguments (e.g. ``io="int8"`` without int8
        quantization, int8 without ``representative_data``).
    DataError
        When representative data does not fit the model's inputs (both shapes named).
    UnsupportedModelError
        When the model cannot be converted as asked (ops without builtin or integer
        kernels are named), or the converter ignored the requested I/O type.

    Examples
    --------
    >>> import numpy as np, tensorflow as tf
    >>> from edgeml.conversion import convert
    >>> model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> tfl = convert(model, quantization="int8", representative_data=x, io="int8")
    >>> [t.dtype for t in tfl.report.inputs + tfl.report.outputs], tfl.report.float_ops
    (['int8', 'int8'], ())
    >>> float(np.abs(tfl.predict(x) - model.predict(x, verbose=0)).max()) < 0.1
    True
    """
    tf = require("tensorflow", extra="tf", feature="Model conversion")
    kind = kind_of(model)
    if kind in ("keras", "tf_keras") and not getattr(model, "built", True):
        raise UnsupportedModelError(
            f"The Keras model {getattr(model, 'name', '')!r} has not been built, so its input "
            "shape is unknown. Fix: start it with keras.Input(shape), or call it once on a "
            "batch of inputs (or model.build(input_shape)) before converting."
        )
    classes = set(layer_classes(model)) if kind in ("keras", "tf_keras") else set()
    is_qat = bool(classes & _QAT_LAYERS)
    mode = _validate(quantization, io, num_calibration_samples, representative_data, is_qat)
    if mode == "int4-weights":
        require("ai_edge_quantizer", extra="quantizer", feature="quantization='int4-weights'")
    if classes & _STRIPPABLE:
        from edgeml.conversion.optimize import strip

        logger.info("Removing pruning/clustering wrappers before conversion (strip).")
        model = strip(model)
    if is_qat and mode == "none":
        logger.warning(
            "This model was trained quantization-aware; pass quantization='int8' to get "
            "the int8 model it was trained for."
        )
    with quiet_tensorflow():
        specs: list[InputSpec] | None = input_specs(model, kind, signature_key)
    samples: list[list[np.ndarray]] = []
    calibration_privacy = None
    if representative_data is not None:
        data, calibration_privacy = calibration_protection(representative_data)
        samples = collect_samples(data, specs, limit=int(num_calibration_samples), seed=seed)
    start = time.perf_counter()
    with quiet_tensorflow():
        converter = _make_converter(tf, model, kind, signature_key)
        _configure(
            tf,
            converter,
            mode,
            io,
            allow_flex=allow_flex,
            allow_float_fallback=allow_float_fallback,
            learned_ranges=is_qat and not samples,
        )
        if samples:
            converter.representative_dataset = replay(samples)
        try:
            model_bytes = bytes(converter.convert())
        except Exception as exc:
            raise _conversion_error(exc, mode) from exc
        if mode == "int4-weights":
            model_bytes = _int4_weights(model_bytes)
    seconds = time.perf_counter() - start
    report = analyze(model_bytes, {"mode": mode})
    warnings = _check_result(report, mode, io, allow_float_fallback)
    if not (is_qat and not samples):  # learned ranges would clip the noise sample
        warnings += _agreement_warnings(
            tf, model, kind, model_bytes, report, samples, signature_key
        )
    for message in warnings:
        logger.warning(message)
    from edgeml import __version__

    report = replace(
        report,
        io=io,
        source=kind if kind != "tf_function" else "concrete_function",
        calibration_samples=len(samples) or None,
        calibration_privacy=calibration_privacy,
        conversion_seconds=round(seconds, 4),
        warnings=tuple(warnings),
    )
    summary = report.to_dict()
    for key in ("bytes", "gzip_bytes", "sha256", "weights_sha256"):
        summary.pop(key, None)
    entry = {
        "edgeml_version": __version__,
        "tensorflow_version": str(tf.__version__),
        "conversion": summary,
    }
    return TFLiteModel(_metadata.with_edgeml_entry(model_bytes, entry))
