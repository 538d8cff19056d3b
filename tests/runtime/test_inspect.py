"""inspect_model: op counts and I/O against the interpreter's own view of the model."""

from __future__ import annotations

import collections
import hashlib
import json

import numpy as np
import pytest

from edgeml.conversion.metadata import with_edgeml_entry
from edgeml.errors import ModelFormatError
from edgeml.runtime import ModelInfo, inspect_model

litert = pytest.importorskip("ai_edge_litert.interpreter")
pytestmark = pytest.mark.tf


@pytest.mark.parametrize("name", ["cnn_int8", "multi", "signatures"])
def test_inspect_matches_the_interpreter(models: dict[str, bytes], name: str) -> None:
    content = models[name]
    info = inspect_model(content)
    assert isinstance(info, ModelInfo)
    assert info.size == len(content)
    assert info.sha256 == hashlib.sha256(content).hexdigest()
    interpreter = litert.Interpreter(model_content=content)
    # Reference op counts: the interpreter's op details of every subgraph it lists.
    expected_ops = collections.Counter(d["op_name"] for d in interpreter._get_ops_details())
    # Reference tensor types: the dtypes of the interpreter's tensor details (subgraph 0).
    expected_types = collections.Counter(
        np.dtype(d["dtype"]).name for d in interpreter.get_tensor_details()
    )
    if name != "signatures":  # _get_ops_details only covers subgraph 0
        assert info.op_counts == dict(expected_ops)
        assert info.tensor_types == dict(expected_types)
    assert sum(info.op_counts.values()) >= sum(expected_ops.values())
    assert sorted(info.signatures) == sorted(interpreter.get_signature_list())
    for key, signature in info.signatures.items():
        listed = interpreter.get_signature_list()[key]
        assert sorted(s.name for s in signature.inputs) == sorted(listed["inputs"])
        assert sorted(s.name for s in signature.outputs) == sorted(listed["outputs"])
    assert info.integrity.status == "unverified"
    payload = json.loads(json.dumps(info.to_dict()))
    assert payload["size"] == len(content)
    assert "| signature |" in info.to_markdown()
    assert "<table>" in info._repr_html_()
    assert repr(info).startswith("ModelInfo('bytes'")


def test_inspect_reads_paths_and_sealed_models(model_files: dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sealed = tmp_path / "sealed.tflite"
    sealed.write_bytes(with_edgeml_entry(model_files["mlp_int8"].read_bytes()))
    info = inspect_model(sealed)
    assert info.path == str(sealed)
    assert info.integrity.status == "verified"
    assert "edgeml" in info.metadata
    assert info.metadata_entries["edgeml"] == len(
        json.dumps(info.metadata["edgeml"], ensure_ascii=False).encode()
    )
    text = info.to_text()
    assert text.startswith("sealed.tflite:")
    assert "edgeml (" in text
    assert "JSON" in text


def test_inspect_refuses_non_models() -> None:
    with pytest.raises(ModelFormatError):
        inspect_model(np.arange(100, dtype=np.uint8).tobytes())
