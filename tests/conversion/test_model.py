"""TFLiteModel: atomic save/load, metadata, C array export, evaluate and compare."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeml.conversion import TFLiteModel, compare, convert, read_metadata
from edgeml.conversion.c_array import c_source
from edgeml.errors import ConfigError, DataError, ModelFormatError

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def int8_model(mlp: Any, digits: Any) -> TFLiteModel:
    return convert(mlp, quantization="int8", representative_data=digits.x_train, io="int8")


def _parse_c_array(text: str, name: str) -> tuple[bytes, int]:
    """Parse the generated source back: the array's bytes and the length constant."""
    body = re.search(rf"{name}\[\] = \{{(.*?)\}};", text, flags=re.DOTALL)
    length = re.search(rf"const unsigned int {name}_len = (\d+);", text)
    assert body is not None
    assert length is not None
    values = [int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body.group(1))]
    return bytes(values), int(length.group(1))


def test_save_and_load_round_trip(int8_model: TFLiteModel, tmp_path: Path) -> None:
    path = int8_model.save(tmp_path / "model.tflite")
    assert path.read_bytes() == int8_model.bytes
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]  # no temp file left
    loaded = TFLiteModel.load(path)
    assert loaded == int8_model
    assert loaded.report.mode == "int8"
    assert loaded.report.calibration_samples == 300


def test_not_a_model_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="TFL3"):
        TFLiteModel(b"definitely not a flatbuffer")
    with pytest.raises(ConfigError):
        TFLiteModel("model.tflite")  # type: ignore[arg-type]


def test_c_array_round_trip(int8_model: TFLiteModel, tmp_path: Path) -> None:
    path = int8_model.to_c_array(tmp_path / "model_data.cc", name="g_digits")
    text = path.read_text()
    data, length = _parse_c_array(text, "g_digits")
    assert data == int8_model.bytes
    assert length == len(int8_model.bytes)
    assert "alignas(16)" in text
    assert "EDGEML_ALIGN16 const unsigned char g_digits[]" in text


def test_c_array_matches_litert_reader(int8_model: TFLiteModel, tmp_path: Path) -> None:
    # Independent parser: ai_edge_litert's own reader of xxd-style C arrays.
    from ai_edge_litert.tools import flatbuffer_utils

    path = int8_model.to_c_array(tmp_path / "model_data.cc")
    assert bytes(flatbuffer_utils.xxd_output_to_bytes(str(path))) == int8_model.bytes


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")
@pytest.mark.parametrize("compiler", ["g++", "gcc"])
def test_c_array_compiles_aligned(int8_model: TFLiteModel, tmp_path: Path, compiler: str) -> None:
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    suffix = ".cc" if compiler == "g++" else ".c"
    source = int8_model.to_c_array(tmp_path / f"model_data{suffix}", name="g_model")
    main = tmp_path / f"main{suffix}"
    main.write_text(
        "#include <stdio.h>\n#include <stdint.h>\n"
        "extern const unsigned char g_model[];\n"
        "extern const unsigned int g_model_len;\n"
        "int main(void) {\n"
        '  printf("%u %u ", g_model_len, (unsigned)((uintptr_t)g_model % 16));\n'
        '  for (unsigned i = 0; i < g_model_len; ++i) printf("%02x", g_model[i]);\n'
        "  return 0;\n}\n"
    )
    binary = tmp_path / "dump"
    std = ["-std=c++17"] if compiler == "g++" else ["-std=c11"]
    subprocess.run(
        [compiler, *std, "-o", str(binary), str(main), str(source)], check=True, timeout=120
    )
    length, alignment, hex_bytes = subprocess.run(
        [str(binary)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(length) == len(int8_model.bytes)
    assert int(alignment) == 0
    assert bytes.fromhex(hex_bytes) == int8_model.bytes


def test_c_array_rejects_bad_names() -> None:
    with pytest.raises(ConfigError, match="C identifier"):
        c_source(b"TFL3", name="1model")


def test_with_metadata_adds_replaces_and_keeps_outputs(
    int8_model: TFLiteModel, digits: Any
) -> None:
    labeled = int8_model.with_metadata("labels", {"classes": list(range(10))})
    relabeled = labeled.with_metadata("labels", {"classes": ["zero"]})
    documents = read_metadata(relabeled.bytes)
    assert documents["labels"] == {"classes": ["zero"]}
    assert documents["edgeml"] == read_metadata(int8_model.bytes)["edgeml"]
    np.testing.assert_array_equal(
        relabeled.predict(digits.x_test), int8_model.predict(digits.x_test)
    )
    assert relabeled.report.weights_sha256 == int8_model.report.weights_sha256
    assert relabeled.report.sha256 != int8_model.report.sha256
    relabeled.metadata["labels"]["classes"] = ["edited"]  # a copy, like EdgeModel.metadata
    assert relabeled.metadata["labels"] == {"classes": ["zero"]}


def test_predict_dequantizes_int8_outputs(int8_model: TFLiteModel, mlp: Any, digits: Any) -> None:
    out = int8_model.predict(digits.x_test)
    assert out.dtype == np.float32
    assert out.shape == (len(digits.x_test), 10)
    # softmax outputs: dequantized values are probabilities (output scale is 1/256)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=0.05)
    np.testing.assert_allclose(out, mlp.predict(digits.x_test, verbose=0), atol=0.06)


def test_predict_checks_shapes(int8_model: TFLiteModel) -> None:
    with pytest.raises(DataError, match=r"\[64\]"):
        int8_model.predict(np.zeros((3, 63), dtype=np.float32))


def test_evaluate_metrics(int8_model: TFLiteModel, digits: Any) -> None:
    accuracy = int8_model.evaluate(digits.x_test, digits.y_test)
    one_hot = np.eye(10)[digits.y_test]
    assert int8_model.evaluate(digits.x_test, one_hot) == accuracy
    custom = int8_model.evaluate(
        digits.x_test, digits.y_test, metric=lambda y, p: float(np.mean(p.argmax(1) != y))
    )
    assert custom == pytest.approx(1 - accuracy)


def test_compare(int8_model: TFLiteModel, mlp: Any, digits: Any, tmp_path: Path) -> None:
    result = compare(mlp, int8_model, digits.x_test, digits.y_test)
    reference = float(np.mean(mlp.predict(digits.x_test, verbose=0).argmax(1) == digits.y_test))
    assert result.reference == pytest.approx(reference)
    assert result.converted == pytest.approx(int8_model.evaluate(digits.x_test, digits.y_test))
    assert result.delta == pytest.approx(result.converted - result.reference)
    assert 0 < result.max_abs_diff < 0.1
    assert result.mean_abs_diff <= result.max_abs_diff
    assert result.agreement is not None
    assert result.agreement > 0.97
    assert result.n == len(digits.x_test)
    from_file = compare(mlp, int8_model.save(tmp_path / "m.tflite"), digits.x_test)
    assert from_file.reference is None
    assert from_file.max_abs_diff == result.max_abs_diff
    assert "max_abs_diff" in result.to_dict()
    assert "<table>" in result._repr_html_()
