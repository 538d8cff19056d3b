"""The card's privacy scope: every released part with what protects it (issue 12, defect 2).

Before the fix a card holding a drift baseline fitted on training data, int8 ranges
calibrated on training data and an audit on training members printed the training's
"(epsilon, delta)-differentially private" with no qualification. The expected values
below are written out by hand from the rules in ``edgeml.card._scope``; the JSON is
checked with the jsonschema package against the shipped schema.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgeml.card import ModelCard, json_schema
from edgeml.drift import Histogram
from edgeml.errors import ConfigError
from edgeml.privacy import Guarantee, Ledger, Protection, audit, dp_baseline

jsonschema = pytest.importorskip("jsonschema")

pytestmark = pytest.mark.compat

GUARANTEE = Guarantee(epsilon=2.7, delta=1e-5, accountant="rdp", steps=100)
X_TRAIN = np.random.default_rng(0).uniform(0, 1, size=(400, 3))
CONVERSION = {"mode": "int8", "calibration_samples": 200}
EVALUATION = {"metric": "accuracy", "reference": 0.9, "converted": 0.89, "n": 10}


def test_a_card_with_exact_training_statistics_says_they_are_not_protected() -> None:
    not_protected = {"protection": "not protected"}
    card = ModelCard.build(
        "digits",
        privacy=GUARANTEE,
        conversion={
            **CONVERSION,
            "calibration_privacy": {**not_protected, "detail": "undeclared data"},
        },
        drift_baseline=Histogram.fit(X_TRAIN),
        evaluation=EVALUATION,
        audit=audit(None, np.linspace(0.0, 1.0, 50), np.linspace(0.2, 1.2, 50)),
        data={"rows_in": 3, "rows_out": 2},
        metrics={"accuracy": 0.9},
    )
    scope = card.privacy_scope
    assert scope is not None
    parts = scope["parts"]
    assert list(parts) == [
        "weights",
        "quantization",
        "drift_baseline",
        "minimization_report",
        "evaluation",
        "metrics",
        "audit",
    ]
    assert parts["weights"] == {
        "protection": "dp",
        "detail": "DP-SGD (rdp accountant)",
        "epsilon": 2.7,
        "delta": 1e-5,
        "release": "training",
    }
    for part in list(parts)[1:]:
        assert parts[part]["protection"] == "not protected", part
    assert parts["quantization"]["detail"] == "undeclared data"
    assert scope["covered"] is False
    assert scope["ledger"] is None
    assert scope["headline"].startswith("The weights are (2.7, 1e-05)-differentially private.")
    assert (
        "Not protected by any guarantee: quantization, drift baseline, minimization report, "
        "evaluation, metrics, audit" in scope["headline"]
    )
    markdown = card.to_markdown()
    assert "## Privacy scope" in markdown
    assert scope["headline"] in markdown
    assert "| drift baseline | not protected: exact statistics" in markdown
    jsonschema.validate(card.to_dict(), json_schema())


def test_dp_releases_on_one_ledger_and_declared_data_cover_everything() -> None:
    ledger = Ledger(delta=1e-5)
    ledger.record(name="training", noise_multiplier=1.1, sampling_rate=0.01, steps=1000)
    baseline = dp_baseline(
        X_TRAIN, lower=0.0, upper=1.0, bins=4, epsilon=0.3, delta=1e-6, ledger=ledger
    )
    rows = baseline.sample(50, seed=0)
    card = ModelCard.build(
        "digits",
        privacy=GUARANTEE,
        conversion={**CONVERSION, "calibration_privacy": rows.protection.to_dict()},
        drift_baseline=baseline,
        evaluation=EVALUATION,
        protections={"evaluation": Protection.held_out("digits test split")},
        ledger=ledger,
    )
    scope = card.privacy_scope
    assert scope is not None
    assert scope["covered"] is True
    assert scope["parts"]["drift_baseline"] == {
        "protection": "dp",
        "detail": "discrete gaussian histogram over declared edges (3 features x 4 bins)",
        "epsilon": 0.3,
        "delta": 1e-6,
        "release": "drift baseline",
    }
    assert scope["parts"]["quantization"]["epsilon"] == 0.0  # post-processing of it
    assert scope["parts"]["quantization"]["release"] == "drift baseline"
    assert scope["parts"]["evaluation"] == {
        "protection": "held-out",
        "detail": "digits test split",
    }
    spent = ledger.spent()
    assert scope["ledger"]["epsilon"] == spent.epsilon
    # Independent reference: dp-accounting's RDP accountant over the two releases' events.
    dp_accounting = pytest.importorskip("dp_accounting")
    training = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(0.01, dp_accounting.GaussianDpEvent(1.1)), 1000
    )
    rdp = dp_accounting.rdp.RdpAccountant()
    rdp.compose(dp_accounting.ComposedDpEvent([training, baseline.dp_event()]))
    assert scope["ledger"]["epsilon"] == pytest.approx(rdp.get_epsilon(1e-5), rel=1e-3)
    assert [r["name"] for r in scope["ledger"]["releases"]] == ["training", "drift baseline"]
    assert scope["headline"].startswith("Everything this card lists is covered")
    # the drift section is still a Histogram every drift test accepts
    assert Histogram.from_dict(card.drift_baseline) == baseline.histogram
    back = ModelCard.from_json(card.to_json())
    assert back.privacy_scope == scope
    jsonschema.validate(card.to_dict(), json_schema())


def test_quantization_without_calibration_data_shares_the_weights_protection() -> None:
    card = ModelCard.build("m", privacy=GUARANTEE, conversion={"mode": "dynamic"})
    assert card.privacy_scope is not None
    quantization = card.privacy_scope["parts"]["quantization"]
    assert (quantization["protection"], quantization["epsilon"]) == ("dp", 0.0)
    plain = ModelCard.build("m", conversion={"mode": "float16"})
    assert plain.privacy_scope is not None
    assert plain.privacy_scope["parts"]["weights"]["protection"] == "not protected"
    assert plain.privacy_scope["headline"].startswith("No differential-privacy guarantee")


def test_replace_keeps_declarations_for_unchanged_parts() -> None:
    card = ModelCard.build(
        "m",
        privacy=GUARANTEE,
        evaluation=EVALUATION,
        protections={"evaluation": Protection.held_out("test split")},
    )
    changed = card.replace(drift_baseline=Histogram.fit(X_TRAIN))
    assert changed.privacy_scope is not None
    assert changed.privacy_scope["parts"]["evaluation"]["protection"] == "held-out"
    assert changed.privacy_scope["parts"]["drift_baseline"]["protection"] == "not protected"
    assert card.replace(version="2").privacy_scope == card.privacy_scope


def test_unknown_parts_and_kinds_are_refused() -> None:
    with pytest.raises(ConfigError, match="protections"):
        ModelCard.build("m", privacy=GUARANTEE, protections={"weights2": "public"})
    with pytest.raises(ConfigError, match="kind"):
        Protection("private")
    bad = {"covered": True, "headline": "", "ledger": None, "parts": {"weights": {}}}
    with pytest.raises(ConfigError, match="privacy_scope"):
        ModelCard("m", privacy_scope=bad)


def test_seeded_noise_is_stated_next_to_the_guarantee() -> None:
    seeded = {"epsilon": 1.0, "delta": 1e-5, "accountant": "rdp", "noise_seeded": True}
    baseline = dp_baseline(X_TRAIN, lower=0.0, upper=1.0, epsilon=0.5, seed=0)
    card = ModelCard.build("m", privacy=seeded, drift_baseline=baseline)
    scope = card.privacy_scope
    assert scope is not None
    for part in ("weights", "drift_baseline"):
        assert "does not hold against anyone who knows the seed" in scope["parts"][part]["detail"]
    assert "For weights, drift baseline, the noise was seeded" in scope["headline"]
