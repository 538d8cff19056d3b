"""EdgeModel.predict against the LiteRT interpreter run directly (the reference)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import edgeml.runtime
from edgeml.card import ModelCard, embed_card, read_card
from edgeml.conversion.metadata import (
    _tiny_model_for_examples,
    with_edgeml_entry,
)
from edgeml.errors import ConfigError, DataError, IntegrityError, ModelFormatError
from edgeml.runtime import EdgeModel, load

litert = pytest.importorskip("ai_edge_litert.interpreter")
pytestmark = pytest.mark.tf

FEATURES = 8


def _interpreter_run(content: bytes, x: np.ndarray) -> np.ndarray:
    """One invocation through the public LiteRT API, resized to x's batch."""
    interpreter = litert.Interpreter(model_content=content, num_threads=1)
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(out["index"]))


def _samples(n: int, seed: int = 1, shape: tuple[int, ...] = (FEATURES,)) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, *shape)) * 2).astype(np.float32)


def test_float_model_matches_the_interpreter(models: dict[str, bytes]) -> None:
    x = _samples(5)
    model = load(models["mlp_float"], num_threads=1)
    np.testing.assert_array_equal(model.predict(x), _interpreter_run(models["mlp_float"], x))


@pytest.mark.parametrize("io", ["int8", "uint8", "int16"])
def test_quantized_io_with_float_values_equals_tflite_own_quantize_ops(
    models: dict[str, bytes], io: str
) -> None:
    # The int8/uint8/int16-I/O model fed floats through edgeml must give exactly what the
    # same network gives when TFLite's own QUANTIZE/DEQUANTIZE ops do the conversion.
    # For int8 that is the float-I/O conversion of the same Keras model; for the other
    # types we compare with the raw interpreter on quantize-by-reference inputs.
    x = _samples(64, seed=3)
    model = load(models[f"mlp_{io}"], num_threads=1)
    ours = model.predict(x)
    assert ours.dtype == np.float32
    if io == "int8":
        reference = _interpreter_run(models["mlp_int8_float_io"], x)
        np.testing.assert_array_equal(ours, reference)
    (spec,) = model.inputs
    (out_spec,) = model.outputs
    assert spec.quantization is not None
    assert out_spec.quantization is not None
    scale, zero = spec.quantization.scale[0], spec.quantization.zero_point[0]
    info = np.iinfo(np.dtype(io))
    # Closed form of LiteRT's QUANTIZE: float32 x * (1 / scale), round half to even,
    # plus zero point, clamped.
    ratio = (x * (np.float32(1.0) / np.float32(scale))).astype(np.float64)
    q = np.clip(np.rint(ratio) + zero, info.min, info.max)
    raw_out = _interpreter_run(models[f"mlp_{io}"], q.astype(io))
    o_scale, o_zero = out_spec.quantization.scale[0], out_spec.quantization.zero_point[0]
    expected = (np.float64(np.float32(o_scale)) * (raw_out.astype(np.int64) - o_zero)).astype(
        np.float32
    )
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(model.predict(q.astype(io), raw=True), raw_out)


def test_raw_requires_the_tensor_type_and_rejects_out_of_range(
    models: dict[str, bytes],
) -> None:
    model = load(models["mlp_int8"])
    with pytest.raises(DataError, match=r"'keras_tensor(_\d+)?'.*integers.*raw=True"):
        model.predict(_samples(1), raw=True)
    with pytest.raises(DataError, match=r"outside the range of int8"):
        model.predict(np.full((1, FEATURES), 300), raw=True)
    # Python ints in range are accepted and cast.
    assert model.predict(np.zeros((1, FEATURES), dtype=np.int64), raw=True).dtype == np.int8


def test_already_quantized_array_without_raw_is_refused(models: dict[str, bytes]) -> None:
    model = load(models["mlp_int8"])
    with pytest.raises(DataError, match="raw=True"):
        model.predict(np.zeros((1, FEATURES), dtype=np.int8))


@pytest.mark.parametrize("name", ["mlp_float", "mlp_int8", "cnn_float", "cnn_int8"])
@pytest.mark.parametrize("n", [2, 7, 1500])
def test_any_batch_equals_per_sample_invocation(
    models: dict[str, bytes], name: str, n: int
) -> None:
    shape = (8, 8, 1) if name.startswith("cnn") else (FEATURES,)
    x = _samples(n, seed=n, shape=shape)
    model = load(models[name], num_threads=1)
    batched = model.predict(x)
    single = np.concatenate([model.predict(x[i : i + 1]) for i in range(n)])
    np.testing.assert_array_equal(batched, single)
    np.testing.assert_array_equal(model.predict(x, batch_size=3), single)


@pytest.mark.parametrize("name", ["fixed_batch_1", "fixed_batch_2"])
def test_fixed_batch_models_loop_and_pad(models: dict[str, bytes], name: str) -> None:
    x = _samples(5, seed=4)
    model = load(models[name])
    assert model.inputs[0].shape[0] in (1, 2)
    kernel = np.arange(FEATURES * 2, dtype=np.float32).reshape(FEATURES, 2)
    expected = np.maximum(x @ kernel - 10.0, 0)  # the module's closed form
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-4)
    assert model.predict(x[:0]).shape == (0, 2)


def test_empty_batch_gives_empty_outputs(models: dict[str, bytes]) -> None:
    out = load(models["mlp_int8"]).predict(np.zeros((0, FEATURES), dtype=np.float32))
    assert out.shape == (0, 3)
    assert out.dtype == np.float32


def test_multiple_inputs_by_name_position_and_tensor_name(models: dict[str, bytes]) -> None:
    model = load(models["multi"])
    assert [s.name for s in model.inputs] == ["zeta", "alpha"]  # the Keras input order
    assert [s.name for s in model.outputs] == ["scores", "value"]
    zeta, alpha = _samples(4, shape=(3,)), _samples(4, seed=2, shape=(2,))
    reference = litert.Interpreter(model_content=models["multi"]).get_signature_runner()(
        zeta=zeta, alpha=alpha
    )
    by_name = model.predict({"alpha": alpha, "zeta": zeta})
    assert list(by_name) == ["scores", "value"]
    for key in ("scores", "value"):
        np.testing.assert_array_equal(by_name[key], reference[key])
    by_position = model.predict([zeta, alpha], output="tuple")
    np.testing.assert_array_equal(by_position[0], reference["scores"])
    np.testing.assert_array_equal(by_position[1], reference["value"])
    tensor_name = model.inputs[0].tensor_name
    aliased = model.predict({tensor_name: zeta, "alpha": alpha})
    np.testing.assert_array_equal(aliased["value"], reference["value"])


def test_single_output_as_dict_or_tuple(models: dict[str, bytes]) -> None:
    model = load(models["mlp_float"])
    x = _samples(2)
    assert list(model.predict(x, output="dict")) == ["output_0"]
    (only,) = model.predict(x, output="tuple")
    np.testing.assert_array_equal(only, model.predict(x))


def test_signatures(models: dict[str, bytes]) -> None:
    model = load(models["signatures"])
    assert sorted(model.signatures) == ["add", "mul"]
    mul = model.signatures["mul"]
    assert {s.name for s in mul.inputs} == {"x", "w"}
    x, w = _samples(3, shape=(2,)), _samples(3, seed=5, shape=(2,))
    out = model.predict({"x": x, "w": w}, signature="mul")
    np.testing.assert_array_equal(out["product"], x * w)
    np.testing.assert_array_equal(out["difference"], x - w)
    np.testing.assert_array_equal(model.predict(x, signature="add"), x + 1.0)
    with pytest.raises(ConfigError, match="'signature'"):
        model.predict(x, signature="nope")
    assert "| input |" in mul.to_markdown()
    json.dumps(mul.to_dict())


def test_specs_are_small_json_values(models: dict[str, bytes]) -> None:
    model = load(models["mlp_int8"])
    (spec,) = model.inputs
    details = litert.Interpreter(model_content=models["mlp_int8"]).get_input_details()[0]
    assert spec.shape == (None, FEATURES)
    assert spec.dtype == "int8"
    assert spec.quantization is not None
    assert spec.quantization.scale == (float(details["quantization"][0]),)
    assert spec.quantization.zero_point == (int(details["quantization"][1]),)
    assert json.loads(json.dumps(spec.to_dict()))["quantization"]["scale"] == [
        float(details["quantization"][0])
    ]
    assert "int8" in repr(model)
    assert "<table>" in model._repr_html_()


@pytest.mark.parametrize(
    ("x", "pattern"),
    [
        (
            np.zeros((2, 5)),
            r"'keras_tensor(_\d+)?' must have shape \(\?, 8\) of float32.*got shape \(2, 5\)",
        ),
        (np.zeros(FEATURES), r"got shape \(8,\)\. Fix: add the batch dimension"),
        (np.zeros((1, 2, FEATURES)), r"got shape \(1, 2, 8\)"),
        (np.array([["a"] * FEATURES]), r"must hold real numbers .* got dtype <U1"),
        (np.array([[None] * FEATURES]), r"must hold real numbers"),
    ],
)
def test_bad_inputs_name_the_tensor_and_what_is_expected(
    models: dict[str, bytes], x: Any, pattern: str
) -> None:
    for name in ("mlp_float", "mlp_int8"):
        model = load(models[name])
        if name == "mlp_int8":
            pattern = pattern.replace("float32", "int8")
        with pytest.raises(DataError, match=pattern):
            model.predict(x)


@pytest.mark.parametrize("name", ["mlp_float", "mlp_int8"])
def test_nan_and_inf_are_rejected_by_default(models: dict[str, bytes], name: str) -> None:
    x = _samples(3)
    x[1, 2], x[2, 0] = np.nan, np.inf
    with pytest.raises(DataError, match=r"'keras_tensor(_\d+)?' has 2 NaN or infinite values"):
        load(models[name]).predict(x)


def test_nonfinite_allow_passes_nan_to_a_float_model(models: dict[str, bytes]) -> None:
    x = _samples(2)
    x[0, 0] = np.nan
    out = load(models["mlp_float"], nonfinite="allow").predict(x)
    assert np.isnan(out[0]).any()
    np.testing.assert_array_equal(out[1:], _interpreter_run(models["mlp_float"], x[1:]))
    # A quantized input has no integer for NaN, whatever the policy.
    with pytest.raises(DataError, match="cannot be quantized"):
        load(models["mlp_int8"], nonfinite="allow").predict(x)


def test_input_names_are_checked(models: dict[str, bytes]) -> None:
    model = load(models["multi"])
    zeta, alpha = _samples(2, shape=(3,)), _samples(2, shape=(2,))
    with pytest.raises(DataError, match=r"missing \['alpha'\]"):
        model.predict({"zeta": zeta})
    with pytest.raises(DataError, match=r"unknown \['beta'\]"):
        model.predict({"zeta": zeta, "alpha": alpha, "beta": alpha})
    with pytest.raises(DataError, match="has 2 inputs"):
        model.predict([zeta])
    with pytest.raises(DataError, match="has 2 inputs"):
        model.predict(zeta)
    with pytest.raises(DataError, match="same batch size"):
        model.predict([zeta, alpha[:1]])


def test_bad_arguments(models: dict[str, bytes]) -> None:
    with pytest.raises(ConfigError, match="'num_threads'"):
        load(models["mlp_float"], num_threads=0)
    with pytest.raises(ConfigError, match="'backend'"):
        load(models["mlp_float"], backend="gpu")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'nonfinite'"):
        load(models["mlp_float"], nonfinite="ignore")  # type: ignore[arg-type]
    model = load(models["mlp_float"])
    # clone and benchmark take num_threads too; the interpreter's own complaint would
    # surface as a misleading ModelFormatError ("check that the file is complete").
    with pytest.raises(ConfigError, match="'num_threads' argument of clone"):
        model.clone(num_threads=0)
    with pytest.raises(ConfigError, match="'num_threads' argument of benchmark"):
        model.benchmark(num_threads=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'output'"):
        model.predict(_samples(1), output="list")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'batch_size'"):
        model.predict(_samples(1), batch_size=0)
    with pytest.raises(TypeError):
        EdgeModel()


def test_bad_model_sources(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "missing.tflite")
    with pytest.raises(ConfigError, match="is a directory"):
        load(tmp_path)
    with pytest.raises(ConfigError, match="'model'"):
        load(3.5)  # type: ignore[arg-type]
    for content in (b"", b"1234TFL3", b"\x00" * 100, bytes(range(256))):
        with pytest.raises(ModelFormatError):
            load(content)
    model = _tiny_model_for_examples()
    for cut in (len(model) // 2, len(model) - 4):
        with pytest.raises(ModelFormatError):
            load(model[:cut])


def test_loads_from_a_path(model_files: dict[str, Any], models: dict[str, bytes]) -> None:
    model = load(model_files["mlp_float"])
    assert model.path == str(model_files["mlp_float"])
    assert model.content == models["mlp_float"]
    assert "mlp_float.tflite" in repr(model)


def test_integrity_and_metadata(models: dict[str, bytes]) -> None:
    card = ModelCard.build("mlp", owner="edge team")
    sealed = with_edgeml_entry(embed_card(models["mlp_int8"], card), {"edgeml_version": "test"})
    model = load(sealed)
    assert model.integrity.status == "verified"
    assert isinstance(model.card, ModelCard)
    assert model.card == card == read_card(sealed)  # the same card read_card returns
    assert model.card.to_dict()["owner"] == "edge team"
    assert model.metadata["edgeml"]["edgeml_version"] == "test"
    model.metadata["edgeml"]["edgeml_version"] = "changed"  # a copy
    assert model.metadata["edgeml"]["edgeml_version"] == "test"
    assert load(models["mlp_int8"]).card is None
    assert load(models["mlp_int8"]).integrity.status == "unverified"
    # Flip one bit in the largest weight buffer: the interpreter would run it, we refuse.
    weights = _largest_constant(sealed)
    position = sealed.find(weights) + len(weights) // 2
    corrupted = bytearray(sealed)
    corrupted[position] ^= 0x01
    litert.Interpreter(model_content=bytes(corrupted)).allocate_tensors()  # runs silently
    with pytest.raises(IntegrityError, match="weights do not match"):
        load(bytes(corrupted))


def _largest_constant(content: bytes) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(content)
    metadata = {m.buffer for m in model.metadata}
    data = [
        np.asarray(b.data, dtype=np.uint8).tobytes()
        for i, b in enumerate(model.buffers)
        if b.data is not None and i not in metadata
    ]
    return max(data, key=len)


def test_tflite_fallback_backend_gives_the_same_outputs(models: dict[str, bytes]) -> None:
    x = _samples(6)
    for name in ("mlp_int8", "multi", "signatures"):
        ours = load(models[name], backend="litert")
        fallback = load(models[name], backend="tflite")
        assert fallback.backend == "tflite"
        feed: Any = (
            {"zeta": _samples(6, shape=(3,)), "alpha": _samples(6, shape=(2,))}
            if name == "multi"
            else (x[:, :2] if name == "signatures" else x)
        )
        expected, got = ours.predict(feed, output="tuple"), fallback.predict(feed, output="tuple")
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_interpreter_wrapper_api_edgeml_relies_on_exists(models: dict[str, bytes]) -> None:
    # edgeml calls the interpreter's pybind wrapper directly on the hot path; if a LiteRT
    # release renames these, this test fails before users see an AttributeError.
    from edgeml.runtime._interpreter import _WRAPPER_METHODS

    wrapper = litert.Interpreter(model_content=models["mlp_float"])._interpreter
    assert [m for m in _WRAPPER_METHODS if not hasattr(wrapper, m)] == []


def test_edgeml_runtime_exports() -> None:
    assert edgeml.runtime.__all__ == sorted(edgeml.runtime.__all__)
    for name in edgeml.runtime.__all__:
        assert getattr(edgeml.runtime, name) is not None


@pytest.mark.parametrize("name", ["mlp_float", "mlp_int8"])
def test_every_nonfinite_position_is_caught_on_the_fast_path(
    models: dict[str, bytes], name: str
) -> None:
    # One sample of the allocated shape takes the fast path, which checks finiteness
    # with a dot product against zeros; every position and kind must still be caught.
    model = load(models[name])
    x = np.full((1, FEATURES), 3.0e38, dtype=np.float32)  # huge but finite: accepted
    model.predict(x)
    for position in range(FEATURES):
        for bad in (np.nan, np.inf, -np.inf):
            y = x.copy()
            y[0, position] = bad
            with pytest.raises(DataError, match="1 NaN or infinite"):
                model.predict(y)


def _per_axis_dequantize_model() -> bytes:
    """int8 input [1, 3] quantized per channel (axis 1) -> TFLite DEQUANTIZE -> float32."""
    from ai_edge_litert.tools import flatbuffer_utils

    schema = flatbuffer_utils.schema_fb
    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT()]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
    code.version = 4
    model.operatorCodes = [code]
    q, y = schema.TensorT(), schema.TensorT()
    q.name, q.shape, q.type, q.buffer = "q", [1, 3], schema.TensorType.INT8, 0
    y.name, y.shape, y.type, y.buffer = "y", [1, 3], schema.TensorType.FLOAT32, 0
    params = schema.QuantizationParametersT()
    params.scale, params.zeroPoint, params.quantizedDimension = [0.5, 0.25, 2.0], [0, 3, -1], 1
    q.quantization = params
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators, subgraph.inputs, subgraph.outputs = [q, y], [op], [0], [1]
    model.subgraphs = [subgraph]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def test_per_channel_quantized_input_round_trips_through_tflite_dequantize() -> None:
    model = load(_per_axis_dequantize_model())
    (spec,) = model.inputs
    assert spec.quantization is not None
    assert spec.quantization.per_channel
    assert spec.quantization.axis == 1
    x = np.array([[1.0, 1.0, 1.0], [-3.3, 0.4, 7.0], [1e9, -1e9, 0.5]], dtype=np.float32)
    # Closed form per channel: q = clip(rint(x * (1 / s)) + z) as LiteRT's QUANTIZE;
    # TFLite's DEQUANTIZE then returns s * (q - z).
    scale = np.array([0.5, 0.25, 2.0])
    zero = np.array([0, 3, -1])
    ratio = x * (np.float32(1.0) / scale.astype(np.float32))
    q = np.clip(np.rint(ratio) + zero, -128, 127)
    np.testing.assert_array_equal(model.predict(x), (scale * (q - zero)).astype(np.float32))


def test_dynamic_non_batch_dimensions_are_resized(models: dict[str, bytes]) -> None:
    model = load(models["dynamic_length"])
    assert model.inputs[0].shape == (None, None)
    for shape in [(3, 5), (2, 7), (1, 1), (4, 5)]:
        x = _samples(shape[0], seed=shape[1], shape=(shape[1],))
        np.testing.assert_allclose(model.predict(x), x.sum(axis=1), rtol=1e-6)
    with pytest.raises(DataError, match=r"shape \(\?, \?\)"):
        model.predict(np.zeros(3, dtype=np.float32))
