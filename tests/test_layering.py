"""The layering promise: the light layers never import TensorFlow, Keras or LiteRT."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.compat

# Everything that must work on a device without TensorFlow.
LIGHT_LAYERS = [
    "edgeml",
    "edgeml.data",
    "edgeml.drift",
    "edgeml.privacy",
    "edgeml.privacy.accounting",
    "edgeml.privacy.mechanisms",
    "edgeml.runtime",
    "edgeml.conversion",
    "edgeml.conversion.metadata",
    "edgeml.card",
    "edgeml.security",
    "edgeml.errors",
]
HEAVY = ["tensorflow", "keras", "tf_keras", "tensorflow_model_optimization"]


def _modules_after_import(statement: str) -> list[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_light_layers_load_no_tensorflow() -> None:
    loaded = _modules_after_import("import " + ", ".join(LIGHT_LAYERS))
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == []


def test_import_edgeml_loads_no_litert() -> None:
    loaded = _modules_after_import("import edgeml; dir(edgeml)")
    assert [m for m in loaded if m.startswith("ai_edge_litert")] == []
