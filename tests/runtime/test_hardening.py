"""Issue 15, model files and the runtime: each example here failed before the fix.

- A model written with a hash never loads as "unverified": a damaged or renamed
  ``edgeml`` entry raises IntegrityError (before: status "unverified", corrupted
  weights ran).
- The hash covers quantization parameters (before: a flipped scale or zero point
  changed outputs while the model reported "verified").
- A corrupt model whose interpreter refuses a batch size the model declares dynamic is
  a model problem (InferenceError), not the caller's DataError.
- A tensor name that is not UTF-8 raises ModelFormatError (before: UnicodeDecodeError).
- ``load`` on an unreadable file, /dev/null or a FIFO says what the path is (before:
  PermissionError, or "does not exist"); masked arrays are refused when something is
  masked (before: the hidden values were predicted on).
"""

from __future__ import annotations

import os
import pathlib
import struct

import numpy as np
import pytest

from edgeml.errors import (
    ConfigError,
    DataError,
    EdgeMLError,
    InferenceError,
    IntegrityError,
    ModelFormatError,
)
from edgeml.modelfile import (
    EDGEML_ENTRY,
    check_integrity,
    example_model,
    read_entries,
    weights_sha256,
    with_edgeml_entry,
    with_metadata,
)
from edgeml.runtime import inspect_model, load

flatbuffer_utils = pytest.importorskip("ai_edge_litert.tools.flatbuffer_utils")
schema = flatbuffer_utils.schema_fb


def _entry_span(content: bytes, name: str) -> tuple[int, int]:
    """Byte range of a metadata entry's data in the file."""
    root = schema.Model.GetRootAs(content, 0)
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        if entry.Name() == name.encode():
            buffer = root.Buffers(entry.Buffer())
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            return start, start + buffer.DataLength()
    raise AssertionError(name)


def _entry_name_position(content: bytes, name: str) -> int:
    root = schema.Model.GetRootAs(content, 0)
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        if entry.Name() == name.encode():
            offset = entry._tab.Offset(4)
            return int(entry._tab.Indirect(entry._tab.Pos + offset)) + 4  # after the length
    raise AssertionError(name)


def _quantization_positions(content: bytes) -> list[tuple[str, int, int]]:
    """(kind, byte position, item size) of the first scale and zero point of each tensor."""
    root = schema.Model.GetRootAs(content, 0)
    found = []
    subgraph = root.Subgraphs(0)
    for t in range(subgraph.TensorsLength()):
        q = subgraph.Tensors(t).Quantization()
        if q is None or not q.ScaleLength():
            continue
        found.append(("scale", q._tab.Vector(q._tab.Offset(8)), 4))
        if q.ZeroPointLength():
            found.append(("zero_point", q._tab.Vector(q._tab.Offset(10)), 8))
    return found


@pytest.fixture(scope="module")
def hashed_int8(models: dict[str, bytes]) -> bytes:
    return with_edgeml_entry(models["mlp_int8"], {"edgeml_version": "test"})


# -- integrity that downgraded silently --------------------------------------------------


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_changed_byte_in_the_edgeml_entry_raises(hashed_int8: bytes, where: str) -> None:
    start, end = _entry_span(hashed_int8, EDGEML_ENTRY)
    position = {"first": start, "middle": (start + end) // 2, "last": end - 1}[where]
    corrupted = bytearray(hashed_int8)
    corrupted[position] = 0xFF  # never valid inside UTF-8 JSON
    assert check_integrity(bytes(corrupted)).status == "damaged"
    with pytest.raises(IntegrityError, match="written with an integrity hash"):
        load(bytes(corrupted))


@pytest.mark.parametrize("bit", range(8))
def test_a_flipped_bit_in_the_entry_name_raises(hashed_int8: bytes, bit: int) -> None:
    for offset in range(len(EDGEML_ENTRY)):
        corrupted = bytearray(hashed_int8)
        corrupted[_entry_name_position(hashed_int8, EDGEML_ENTRY) + offset] ^= 1 << bit
        with pytest.raises(IntegrityError):
            load(bytes(corrupted))


def test_a_removed_entry_is_caught_by_the_description_marker(hashed_int8: bytes) -> None:
    model = flatbuffer_utils.read_model_from_bytearray(hashed_int8)
    model.metadata = [m for m in model.metadata if m.name != EDGEML_ENTRY.encode()]
    stripped = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    assert EDGEML_ENTRY not in read_entries(stripped)
    assert check_integrity(stripped).status == "damaged"
    with pytest.raises(IntegrityError):
        load(stripped)


def test_models_without_any_hash_still_load_as_unverified(models: dict[str, bytes]) -> None:
    assert load(models["mlp_int8"]).integrity.status == "unverified"
    assert load(with_metadata(models["mlp_int8"], "labels", {"n": 3})).integrity.ok


def test_the_hash_covers_scales_and_zero_points(hashed_int8: bytes) -> None:
    positions = _quantization_positions(hashed_int8)
    assert {kind for kind, _, _ in positions} == {"scale", "zero_point"}
    for kind, position, _size in positions:
        corrupted = bytearray(hashed_int8)
        corrupted[position] ^= 0x01  # lowest bit: a slightly different scale / zero point
        # Version 1 (weights only) cannot see it; version 2 does.
        assert weights_sha256(bytes(corrupted), version=1) == weights_sha256(hashed_int8, version=1)
        assert weights_sha256(bytes(corrupted)) != weights_sha256(hashed_int8), kind
        with pytest.raises(IntegrityError, match="do not match"):
            load(bytes(corrupted))


def test_a_changed_scale_really_changes_outputs(models: dict[str, bytes]) -> None:
    """Why the hash must cover it: the unhashed model runs and answers differently."""
    content = models["mlp_int8"]
    _, position, _ = _quantization_positions(content)[0]
    corrupted = bytearray(content)
    value = struct.unpack_from("<f", corrupted, position)[0]
    struct.pack_into("<f", corrupted, position, value * 1.5)
    x = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    before = load(content).predict(x)
    after = load(bytes(corrupted)).predict(x)
    assert not np.array_equal(before, after)


def test_a_legacy_version_1_record_still_verifies(models: dict[str, bytes]) -> None:
    legacy = with_metadata(
        models["mlp_int8"],
        EDGEML_ENTRY,
        {"weights_sha256": weights_sha256(models["mlp_int8"], version=1)},
    )
    integrity = load(legacy).integrity
    assert (integrity.status, integrity.version) == ("verified", 1)


def test_editing_the_version_cannot_downgrade_the_check(hashed_int8: bytes) -> None:
    model = flatbuffer_utils.read_model_from_bytearray(hashed_int8)
    entry = read_entries(hashed_int8)[EDGEML_ENTRY].replace(
        b'"integrity_version": 2', b'"integrity_version": 1'
    )
    assert b'"integrity_version": 1' in entry
    for m in model.metadata:
        if m.name == EDGEML_ENTRY.encode():
            model.buffers[m.buffer].data = np.frombuffer(entry, np.uint8)
    edited = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    assert check_integrity(edited).status in ("mismatch", "damaged")
    with pytest.raises(IntegrityError):
        load(edited)


# -- model problems reported as model problems -------------------------------------------


def _reshape_model(new_shape: tuple[int, ...]) -> bytes:
    """x (?, 6) -> RESHAPE(new_shape) -> y (?, 2, 3), built from the schema."""
    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT(), schema.BufferT()]
    model.buffers[1].data = np.frombuffer(np.array(new_shape, np.int32).tobytes(), np.uint8)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RESHAPE
    code.version = 1
    model.operatorCodes = [code]
    tensors = []
    for name, shape, signature, buffer, kind in (
        ("x", [1, 6], [-1, 6], 0, schema.TensorType.FLOAT32),
        ("shape", [len(new_shape)], None, 1, schema.TensorType.INT32),
        ("y", [1, 2, 3], [-1, 2, 3], 0, schema.TensorType.FLOAT32),
    ):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.buffer, tensor.type = name, shape, buffer, kind
        if signature is not None:
            tensor.shapeSignature = signature
        tensors.append(tensor)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators = tensors, [op]
    subgraph.inputs, subgraph.outputs, subgraph.name = [0], [2], "main"
    model.subgraphs = [subgraph]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def test_a_bad_shape_constant_is_a_model_problem_not_a_data_error() -> None:
    good = load(_reshape_model((-1, 2, 3)))
    assert good.predict(np.ones((4, 6))).shape == (4, 2, 3)  # the model itself works
    broken = load(_reshape_model((1, 2, 3)))  # the constant should have been (-1, 2, 3)
    assert broken.predict(np.ones((1, 6))).shape == (1, 2, 3)
    with pytest.raises(InferenceError, match="dynamic batch size") as caught:
        broken.predict(np.ones((2, 6)))
    assert not isinstance(caught.value, DataError)
    # The caller's own mistakes are still DataError.
    with pytest.raises(DataError):
        broken.predict(np.ones((2, 5)))


def test_a_tensor_name_that_is_not_utf8_is_a_model_format_error() -> None:
    model = flatbuffer_utils.read_model_from_bytearray(example_model())
    model.subgraphs[0].tensors[0].name = b"x\xff\xfe"
    content = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    for function in (load, inspect_model):
        with pytest.raises(ModelFormatError):
            function(content)


# -- error types for files and inputs ----------------------------------------------------


def test_dev_null_is_not_said_to_be_missing() -> None:
    with pytest.raises(ConfigError, match="character device") as caught:
        load("/dev/null")
    assert "does not exist" not in str(caught.value)


def test_a_fifo_is_refused_without_blocking(tmp_path: pathlib.Path) -> None:
    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    for function in (load, inspect_model):
        with pytest.raises(ConfigError, match="FIFO"):
            function(fifo)


def test_an_unreadable_file_raises_an_edgeml_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(example_model())
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read fail as it would for a user

        def refuse(self: pathlib.Path) -> bytes:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(pathlib.Path, "read_bytes", refuse)
    with pytest.raises(ConfigError, match=r"cannot be read \(PermissionError"):
        load(path)


def test_a_read_error_is_an_edgeml_error() -> None:
    # /proc/self/mem is a "regular file" whose read fails with EIO.
    with pytest.raises(ConfigError, match="cannot be read"):
        load("/proc/self/mem")


def test_masked_values_are_refused_not_predicted_on(models: dict[str, bytes]) -> None:
    model = load(models["mlp_float"])
    x = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    masked = np.ma.masked_array(x, mask=np.zeros_like(x, dtype=bool))
    masked.mask[1, 2] = True
    with pytest.raises(DataError, match="1 masked value"):
        model.predict(masked)
    with pytest.raises(DataError, match="masked"):
        load(models["mlp_int8"]).predict(masked)  # the quantizing path too
    nothing_masked = np.ma.masked_array(x, mask=False)
    np.testing.assert_array_equal(model.predict(nothing_masked), model.predict(x))


def test_every_failure_here_is_an_edgeml_error() -> None:
    for bad in (b"", b"\x00" * 64, example_model()[:40]):
        with pytest.raises(EdgeMLError):
            load(bad)
