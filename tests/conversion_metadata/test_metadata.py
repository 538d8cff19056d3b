"""edgeml.conversion.metadata: named JSON documents in .tflite files and the weights hash.

Reference points: outputs are compared with the LiteRT interpreter running the unmodified
model; the weights hash is recomputed here through flatbuffer_utils' object API (a code
path independent of the accessor API the module uses) and hashlib.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from edgeml.conversion.metadata import (
    EDGEML_ENTRY,
    _tiny_model_for_examples,
    check_integrity,
    list_metadata,
    read_metadata,
    verify_integrity,
    weights_sha256,
    with_edgeml_entry,
    with_metadata,
)
from edgeml.errors import ConfigError, IntegrityError, ModelFormatError

interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
flatbuffer_utils = pytest.importorskip("ai_edge_litert.tools.flatbuffer_utils")

CONVERTER_ENTRIES = ("min_runtime_version", "CONVERSION_METADATA")


def _run(model: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = interpreter_module.Interpreter(model_content=model)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    interpreter.set_tensor(inp["index"], x.astype(inp["dtype"]))
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(out["index"]))


def _reference_weights_sha256(model: bytes) -> str:
    """Same definition as the module, through the object API (compacted buffers)."""
    obj = flatbuffer_utils.read_model_from_bytearray(model)
    metadata_buffers = {m.buffer for m in obj.metadata or []}
    digest, seen = hashlib.sha256(), set()
    for subgraph in obj.subgraphs:
        for tensor in subgraph.tensors:
            index = int(tensor.buffer)
            if index == 0 or index in seen or index in metadata_buffers:
                continue
            seen.add(index)
            data = obj.buffers[index].data
            if data is not None and len(data):
                raw = np.asarray(data, dtype=np.uint8).tobytes()
                digest.update(struct.pack("<Q", len(raw)) + raw)
    return digest.hexdigest()


def _largest_weight_offset(model: bytes) -> tuple[int, int]:
    """Return (file offset, length) of the largest constant buffer's bytes."""
    obj = flatbuffer_utils.read_model_from_bytearray(model)
    metadata_buffers = {m.buffer for m in obj.metadata or []}
    candidates = [
        np.asarray(b.data, dtype=np.uint8).tobytes()
        for i, b in enumerate(obj.buffers)
        if b.data is not None and i not in metadata_buffers
    ]
    weights = max(candidates, key=len)
    offset = model.find(weights)
    assert offset > 0
    assert model.find(weights, offset + 1) == -1
    return offset, len(weights)


@pytest.mark.tf
@pytest.mark.parametrize("kind", ["float", "int8"])
def test_interpreter_gives_identical_outputs_after_adding_metadata(
    mlp_models: dict[str, bytes], kind: str
) -> None:
    model = mlp_models[kind]
    x = np.random.default_rng(1).normal(size=(1, 8))
    if kind == "int8":
        x = np.clip(np.round(x * 20), -128, 127)
    tagged = with_metadata(model, "labels", {"classes": ["a", "b", "c"]})
    tagged = with_edgeml_entry(tagged, {"producer": "test"})
    np.testing.assert_array_equal(_run(tagged, x), _run(model, x))
    assert interpreter_module.Interpreter(model_content=tagged).get_signature_list() == (
        interpreter_module.Interpreter(model_content=model).get_signature_list()
    )


@pytest.mark.tf
def test_converter_entries_are_kept_byte_for_byte_and_hidden_from_read_metadata(
    mlp_models: dict[str, bytes],
) -> None:
    model = mlp_models["int8"]
    assert set(CONVERTER_ENTRIES) <= set(list_metadata(model))
    assert read_metadata(model) == {}
    tagged = with_metadata(model, "notes", {"text": "hello"})
    before = flatbuffer_utils.read_model_from_bytearray(model)
    after = flatbuffer_utils.read_model_from_bytearray(tagged)

    def entries(obj: object) -> dict[bytes, bytes]:
        return {
            m.name: np.asarray(obj.buffers[m.buffer].data, dtype=np.uint8).tobytes()  # type: ignore[attr-defined]
            for m in obj.metadata  # type: ignore[attr-defined]
        }

    kept = entries(after)
    for name, data in entries(before).items():
        assert kept[name] == data
    assert list(read_metadata(tagged)) == ["notes"]


@pytest.mark.tf
def test_rewriting_a_name_replaces_it(mlp_models: dict[str, bytes]) -> None:
    model = with_metadata(mlp_models["float"], "labels", {"version": 1})
    model = with_metadata(model, "other", {"x": 1})
    model = with_metadata(model, "labels", {"version": 2, "long": "y" * 500})
    names = [m.name for m in flatbuffer_utils.read_model_from_bytearray(model).metadata]
    assert names.count(b"labels") == 1
    assert read_metadata(model) == {"labels": {"version": 2, "long": "y" * 500}, "other": {"x": 1}}


def test_a_converter_entry_cannot_be_overwritten() -> None:
    with pytest.raises(ConfigError, match="min_runtime_version"):
        with_metadata(_tiny_model_for_examples(), "min_runtime_version", {"x": 1})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(name=st.text(min_size=1, max_size=30), document=st.dictionaries(st.text(), json_values))
def test_documents_round_trip(name: str, document: dict[str, object]) -> None:
    assume(name not in CONVERTER_ENTRIES)  # refused: see the test above
    model = _tiny_model_for_examples()
    tagged = with_metadata(model, name, document)
    assert read_metadata(tagged)[name] == document
    # The weights are untouched.
    assert weights_sha256(tagged) == weights_sha256(model)


def test_reading_from_a_path(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "m.tflite"
    path.write_bytes(with_metadata(_tiny_model_for_examples(), "a", {"b": [1, 2]}))
    assert read_metadata(path) == {"a": {"b": [1, 2]}}
    assert read_metadata(str(path)) == {"a": {"b": [1, 2]}}


def test_numpy_values_and_nan_are_stored_as_json() -> None:
    doc = {"acc": np.float32(0.5), "shape": np.array([1, 8]), "loss": float("nan")}
    stored = read_metadata(with_metadata(_tiny_model_for_examples(), "r", doc))["r"]
    assert stored == {"acc": 0.5, "shape": [1, 8], "loss": None}


@pytest.mark.tf
@pytest.mark.parametrize("kind", ["float", "int8"])
def test_weights_hash_matches_an_independent_computation(
    mlp_models: dict[str, bytes], kind: str
) -> None:
    model = mlp_models[kind]
    # Version 1 (buffers only) against the reference; version 2 in test_modelfile.py.
    assert weights_sha256(model, version=1) == _reference_weights_sha256(model)
    tagged = with_metadata(model, "x", {"y": 1})
    assert (
        weights_sha256(tagged, version=1)
        == _reference_weights_sha256(tagged)
        == weights_sha256(model, version=1)
    )


@pytest.mark.tf
def test_corrupted_weights_change_the_hash_and_fail_verification(
    mlp_models: dict[str, bytes],
) -> None:
    sealed = with_edgeml_entry(mlp_models["int8"], {"producer": "test"})
    assert verify_integrity(sealed).status == "verified"
    # Editing documents afterwards keeps the seal valid.
    edited = with_metadata(sealed, "card", {"owner": "me"})
    assert verify_integrity(edited).status == "verified"
    offset, length = _largest_weight_offset(edited)
    for position in (offset, offset + length // 2, offset + length - 1):
        corrupted = bytearray(edited)
        corrupted[position] ^= 0x10
        assert weights_sha256(bytes(corrupted)) != weights_sha256(edited)
        result = check_integrity(bytes(corrupted))
        assert result.status == "mismatch"
        assert not result.ok
        with pytest.raises(IntegrityError, match="do not match"):
            verify_integrity(bytes(corrupted))


def test_models_without_a_stored_hash_are_unverified_not_rejected() -> None:
    result = verify_integrity(_tiny_model_for_examples())
    assert result.status == "unverified"
    assert result.expected is None
    assert json.loads(json.dumps(result.to_dict()))["status"] == "unverified"


def test_a_malformed_stored_hash_is_a_mismatch() -> None:
    model = with_metadata(_tiny_model_for_examples(), EDGEML_ENTRY, {"weights_sha256": "abc"})
    assert check_integrity(model).status == "mismatch"
    with pytest.raises(IntegrityError):
        verify_integrity(model)


def test_refreshing_the_edgeml_entry_keeps_its_fields() -> None:
    model = with_edgeml_entry(_tiny_model_for_examples(), {"edgeml_version": "9"})
    refreshed = with_edgeml_entry(model)
    assert read_metadata(refreshed)[EDGEML_ENTRY]["edgeml_version"] == "9"
    assert verify_integrity(refreshed).status == "verified"


@pytest.mark.parametrize(
    "content",
    [b"", b"TFL3", b"\x00" * 3 + b"TFL3", b"not a model at all", bytes(range(256)) * 4],
    ids=["empty", "identifier-only", "short", "text", "no-identifier"],
)
def test_non_models_raise_model_format_error(content: bytes) -> None:
    for function in (read_metadata, list_metadata, weights_sha256, check_integrity):
        with pytest.raises(ModelFormatError):
            function(content)
    with pytest.raises(ModelFormatError):
        with_metadata(content, "a", {})


def test_truncated_models_raise_model_format_error_or_parse() -> None:
    model = with_edgeml_entry(_tiny_model_for_examples())
    for length in range(8, len(model), 7):
        try:
            read_metadata(model[:length])
            weights_sha256(model[:length])
        except ModelFormatError:
            pass


def test_bad_arguments_are_config_errors() -> None:
    model = _tiny_model_for_examples()
    with pytest.raises(ConfigError, match="'name'"):
        with_metadata(model, "", {})
    with pytest.raises(ConfigError, match="'document'"):
        with_metadata(model, "a", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'model'"):
        read_metadata(12)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'model_bytes'"):
        with_metadata("model.tflite", "a", {})  # type: ignore[arg-type]


def test_reading_metadata_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "from edgeml.conversion.metadata import read_metadata, _tiny_model_for_examples\n"
        "read_metadata(_tiny_model_for_examples())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'tf_keras')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_the_conversion_report_counts_card_and_metadata_bytes() -> None:
    from edgeml.card import ModelCard, embed_card
    from edgeml.conversion import TFLiteModel

    card = ModelCard.build("tiny", owner="edge team", description="d" * 2000)
    model = embed_card(with_edgeml_entry(_tiny_model_for_examples()), card)
    # Reference: each entry's buffer length read directly through the schema.
    root = flatbuffer_utils.schema_fb.Model.GetRootAs(model, 0)
    sizes = {}
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        sizes[entry.Name().decode()] = root.Buffers(entry.Buffer()).DataLength()
    report = TFLiteModel(model).report
    assert report.card_bytes == sizes["model_card"] > 0
    assert report.metadata_bytes == sum(sizes.values())
    assert report.card_bytes < 1000  # 2,000 repeated characters, stored compressed
    assert f"| of which model card | {report.card_bytes} |" in report.to_markdown()
    assert report.to_dict()["card_bytes"] == report.card_bytes
    assert TFLiteModel(_tiny_model_for_examples()).report.card_bytes == 0
