"""`edgeml demo --quick` end to end, as a user runs it (a subprocess, real TensorFlow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgeml
from edgeml import security
from edgeml.errors import ConfigError, IntegrityError


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    run = subprocess.run(
        [sys.executable, "-m", "edgeml", "demo", "--quick", "--out", str(out), "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out, run.stdout


def test_demo_prints_progress_and_a_summary_table(demo_out: tuple[Path, str]) -> None:
    _, stdout = demo_out
    for step in range(1, 9):
        assert f"{step}/8 " in stdout
    assert "| step | result |" in stdout
    assert "tampered copy refused: yes" in stdout


def test_minimized_records_hold_no_direct_identifiers(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    table = json.loads((out / "minimized_records.json").read_text())
    assert set(table) == {"age", "zip", "heart_rate", "steps", "notes", "user_id"}
    text = json.dumps(table)
    assert "@example.org" not in text  # e-mails in free text were redacted
    assert "+44 20 7946" not in text  # and so were phone numbers
    assert not any(v.startswith("U1") for v in table["user_id"])  # ids are pseudonyms


def test_model_carries_its_card_and_runs_with_litert(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    model = edgeml.load(out / "model.tflite")
    card = model.card
    assert card is not None
    guarantee = json.loads((out / "privacy_guarantee.json").read_text())
    assert guarantee["epsilon"] <= 3.0  # the promised budget was kept
    assert card.privacy["epsilon"] == guarantee["epsilon"]
    assert card.privacy["steps"] == guarantee["steps"]
    # the card describes the weights of the very file it sits in
    from edgeml.conversion.metadata import weights_sha256

    model_weights = weights_sha256((out / "model.tflite").read_bytes())
    assert card.conversion["weights_sha256"] == model_weights
    probabilities = model.predict(np.zeros((3, 64), np.float32))
    assert probabilities.shape == (3, 10)


def test_sealed_copy_opens_with_its_key_and_card_and_refuses_tampering(
    demo_out: tuple[Path, str],
) -> None:
    from edgeml.card import read_card

    out, _ = demo_out
    key = security.load_key(out / "demo.key")
    sealed = (out / "model.tflite.sealed").read_bytes()
    model_bytes = (out / "model.tflite").read_bytes()
    card = read_card(model_bytes)
    assert card is not None
    assert security.unseal(sealed, key, associated_data=card.hash) == model_bytes
    opened = edgeml.load(out / "model.tflite.sealed", key=key, associated_data=card.hash)
    assert opened.card is not None
    tampered = bytearray(sealed)
    tampered[-1] ^= 0x80
    with pytest.raises(IntegrityError):
        security.unseal(bytes(tampered), key, associated_data=card.hash)


def test_bad_arguments_are_config_errors(tmp_path: Path) -> None:
    from edgeml.demo import run_demo

    with pytest.raises(ConfigError, match="epsilon"):
        run_demo(tmp_path, epsilon=0)
    with pytest.raises(ConfigError, match="quantization"):
        run_demo(tmp_path, quantization="int3")


BLOCK_TENSORFLOW = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise ImportError(f"{name} is blocked: this process plays a device")
sys.meta_path.insert(0, _Block())
from edgeml.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_inspect_shows_the_card_without_tensorflow(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    run = subprocess.run(
        [sys.executable, "-c", BLOCK_TENSORFLOW, "inspect", str(out / "model.tflite"), "--card"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "integrity: verified" in run.stdout
    assert "# Model card: edgeml-demo-digits" in run.stdout
    assert "## Differential privacy" in run.stdout
