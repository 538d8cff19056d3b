"""The release audit: what a model file or folder carries, and what protects it.

It reads model files with LiteRT's flatbuffer tools only (no TensorFlow), so these tests
need the ``litert`` extra; expected protections are written out by hand from the card's
privacy-scope rules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from edgeml.card import ModelCard, embed_card
from edgeml.conversion.metadata import _tiny_model_for_examples, with_metadata
from edgeml.drift import Histogram
from edgeml.errors import ConfigError
from edgeml.privacy import Guarantee, Protection, audit_release

X = np.random.default_rng(3).uniform(0, 1, size=(3000, 2))


def test_release_audit_flags_undeclared_parts_without_tensorflow(tmp_path: Path) -> None:
    card = ModelCard.build(
        "m",
        privacy=Guarantee(epsilon=2.0, delta=1e-5, accountant="rdp"),
        drift_baseline=Histogram.fit(X),
        evaluation={"metric": "accuracy", "converted": 0.9},
        protections={"evaluation": Protection.held_out("test split")},
    )
    model = embed_card(with_metadata(_tiny_model_for_examples(), "notes", {"a": 1}), card)
    (tmp_path / "model.tflite").write_bytes(model)
    (tmp_path / "stats.json").write_text(json.dumps({"mean": 0.4}))
    (tmp_path / "internal").mkdir()
    result = audit_release(tmp_path)
    kinds = {(i.file, i.part): i.protection.kind for i in result.items}
    assert kinds == {
        ("model.tflite", "weights"): "dp",
        ("model.tflite", "drift_baseline"): "not protected",
        ("model.tflite", "evaluation"): "held-out",
        ("model.tflite", "metadata:notes"): "not protected",
        ("stats.json", "file"): "not protected",
    }
    assert result.skipped == ("internal",)
    assert not result.covered
    assert {i.part for i in result.uncovered} == {"drift_baseline", "metadata:notes", "file"}
    assert "UNCOVERED" in result.to_markdown()
    assert "uncovered" in result._repr_html_()
    assert json.loads(json.dumps(result.to_dict()))["covered"] is False


def test_release_audit_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "from edgeml.conversion.metadata import _tiny_model_for_examples\n"
        "from edgeml.privacy import audit_release, dp_baseline\n"
        "audit_release(_tiny_model_for_examples())\n"
        "dp_baseline([[0.5]], lower=0.0, upper=1.0, epsilon=1.0)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert run.stdout.strip() == "[]"


def test_release_audit_never_crashes_on_bad_bytes(tmp_path: Path) -> None:
    model = bytearray(_tiny_model_for_examples())
    truncated = bytes(model[: len(model) // 2])
    result = audit_release(truncated)
    assert [(i.part, i.protection.kind) for i in result.items] == [("file", "not protected")]
    with pytest.raises(ConfigError, match="existing"):
        audit_release(tmp_path / "missing.tflite")
