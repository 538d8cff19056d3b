"""`edgeml demo --quick` end to end, as a user runs it (a subprocess, real TensorFlow).

The privacy-scope tests are the regression for issue 12, defect 2: the demo's card used
to hold a drift baseline fitted on the training data (its maximum was one training
record's value) and int8 ranges calibrated on training rows, next to an unqualified DP
claim. The ledger total is recomputed with dp-accounting from the saved events.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import dp_accounting
import numpy as np
import pytest

import edgeml
from edgeml import security
from edgeml.errors import ConfigError, IntegrityError
from edgeml.privacy import Ledger, audit_release


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
    out, stdout = demo_out
    for step in range(1, 10):
        assert f"{step}/9 " in stdout
    assert "| synthesize |" in stdout
    sizes = re.search(
        r"\| model file \| ([\d,]+) bytes: the int8 model ([\d,]+) \+ its compressed card ([\d,]+)",
        stdout,
    )
    assert sizes is not None
    total, model, card = (int(g.replace(",", "")) for g in sizes.groups())
    assert total == model + card == (out / "model.tflite").stat().st_size
    assert card < model  # the card never dominates a small model
    assert "| step | result |" in stdout
    assert "tampered copy refused: yes" in stdout
    assert "(covered: yes)" in stdout


def test_minimized_records_hold_no_direct_identifiers(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    table = json.loads((out / "internal" / "minimized_records.json").read_text())
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
    guarantee = json.loads((out / "internal" / "privacy_guarantee.json").read_text())
    assert guarantee["epsilon"] <= 3.0 * 0.75  # DP-SGD's share of the budget was kept
    assert guarantee.get("noise_seeded", False) is False  # the demo never seeds the noise
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
    key = security.load_key(out / "internal" / "demo.key")
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
    assert "## Privacy scope" in run.stdout


def test_the_card_privacy_scope_field_by_field(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    loaded = edgeml.load(out / "model.tflite").card
    assert loaded is not None
    card = loaded.to_dict()
    scope = card["privacy_scope"]
    guarantee = json.loads((out / "internal" / "privacy_guarantee.json").read_text())
    parts = scope["parts"]
    assert list(parts) == [
        "weights",
        "quantization",
        "drift_baseline",
        "minimization_report",
        "evaluation",
    ]
    assert parts["weights"] == {
        "protection": "dp",
        "detail": "DP-SGD (rdp accountant)",
        "epsilon": guarantee["epsilon"],
        "delta": 1e-5,
        "release": "dp-sgd fit 1",
    }
    assert parts["drift_baseline"] == {
        "protection": "dp",
        "detail": "discrete gaussian histogram over declared edges (64 features x 5 bins)",
        "epsilon": 0.75,  # a quarter of the total budget of 3
        "delta": 1e-5,
        "release": "drift baseline",
    }
    assert parts["quantization"] == {
        "protection": "dp",
        "detail": "rows sampled from the DP drift baseline 'drift baseline' (post-processing)",
        "epsilon": 0.0,
        "delta": 0.0,
        "release": "drift baseline",
    }
    assert parts["minimization_report"]["protection"] == "public"
    assert parts["evaluation"] == {
        "protection": "held-out",
        "detail": "scikit-learn digits test split (20%)",
    }
    assert "audit" not in parts  # attack scores on training members stay internal
    assert card["audit"] is None
    assert scope["covered"] is True
    assert scope["headline"].startswith("Everything this card lists is covered")
    # the drift baseline holds the declared bounds, not training values
    baseline = card["drift_baseline"]
    np.testing.assert_array_equal(baseline["edges"], [np.linspace(0, 1, 6).tolist()] * 64)
    assert baseline["minimum"] == [0.0] * 64
    assert baseline["maximum"] == [1.0] * 64
    # the quantization record in the model file itself says the same
    assert card["conversion"]["calibration_privacy"] == parts["quantization"]


def test_the_budget_split_is_one_ledger_recomputed_by_dp_accounting(
    demo_out: tuple[Path, str],
) -> None:
    out, _ = demo_out
    ledger = Ledger.load(out / "internal" / "ledger.json")
    loaded = edgeml.load(out / "model.tflite").card
    assert loaded is not None
    card = loaded.to_dict()
    stated = card["privacy_scope"]["ledger"]
    assert [r["name"] for r in stated["releases"]] == ["drift baseline", "dp-sgd fit 1"]
    assert stated["releases"][0]["epsilon"] == 0.75
    accountant = dp_accounting.rdp.RdpAccountant()
    for entry in ledger.entries:
        accountant.compose(entry.event)
    total = accountant.get_epsilon(1e-5)
    assert stated["epsilon"] == pytest.approx(total, rel=1e-9)
    assert stated["delta"] == 1e-5
    assert total <= 3.0  # the demo's total budget
    # composing is cheaper than adding: the baseline's and DP-SGD's own epsilons bound it
    training = card["privacy_scope"]["parts"]["weights"]["epsilon"]
    assert max(0.75, training) < total <= 0.75 + training


def test_the_released_folder_holds_nothing_uncovered(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    result = audit_release(out)
    assert result.skipped == ("internal", "synthetic")
    assert sorted({item.file for item in result.items}) == [
        "model.tflite",
        "model.tflite.sealed",
        "model_card.md",
    ]
    assert result.uncovered == ()
    assert result.covered
    # the synthetic copy ships its DP guarantee and leaves out the non-DP quality measures
    report = json.loads((out / "synthetic" / "synthesis_report.json").read_text())
    assert "quality" not in report
    rows = json.loads((out / "synthetic" / "records.json").read_text())
    assert set(rows) == {"age", "zip", "heart_rate", "steps"}  # nothing undeclared, no PII
    # what stays inside is exactly what must not ship
    internal = audit_release(out / "internal")
    assert not internal.covered
    assert {item.file for item in internal.uncovered} >= {"audit.json", "demo.key"}
