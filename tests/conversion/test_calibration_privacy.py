"""What protects int8 calibration ranges (issue 12, defect 2).

Calibrated scales are exact statistics of the representative data: one record with a
large value moves the input scale, so membership of that record is visible in the file.
Before the fix nothing recorded where the ranges came from; now the conversion report
and the model's edgeml entry say "dp", "public", "held-out" or "not protected", and
:func:`edgeml.privacy.audit_release` reads it back without TensorFlow.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from edgeml.conversion import convert
from edgeml.privacy import Ledger, audit_release, declare, dp_baseline

pytestmark = pytest.mark.tf


def _quantization_item(model_bytes: bytes) -> Any:
    (item,) = [i for i in audit_release(model_bytes).items if i.part == "quantization"]
    return item


def test_bare_training_rows_are_recorded_as_not_protected(
    mlp: Any, digits: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rows = digits.x_train[:100].copy()
    with_outlier = rows.copy()
    with_outlier[0, 5] = 10.0  # one record far outside [0, 1]
    with caplog.at_level(logging.WARNING, logger="edgeml.conversion"):
        plain = convert(mlp, quantization="int8", representative_data=rows, io="int8")
    outlier = convert(mlp, quantization="int8", representative_data=with_outlier, io="int8")
    # the leak: one record decides the input scale stored in the file
    assert outlier.report.inputs[0].scale > 5 * plain.report.inputs[0].scale
    # Independent reference: the scale LiteRT's interpreter reads from each file.
    litert = pytest.importorskip("ai_edge_litert.interpreter")

    def file_scale(model_bytes: bytes) -> float:
        details = litert.Interpreter(model_content=model_bytes).get_input_details()[0]
        return float(details["quantization"][0])

    assert file_scale(outlier.bytes) > 5 * file_scale(plain.bytes)
    privacy = plain.report.calibration_privacy
    assert privacy is not None
    assert privacy["protection"] == "not protected"
    assert "undeclared representative_data" in caplog.text
    item = _quantization_item(plain.bytes)
    assert not item.covered
    assert item.protection.kind == "not protected"


def test_declared_and_dp_calibration_data_are_recorded(mlp: Any, digits: Any) -> None:
    public = convert(
        mlp,
        quantization="int8",
        representative_data=declare(
            np.random.default_rng(0).uniform(0, 1, (100, 64)).astype(np.float32),
            kind="public",
            source="uniform noise over the pixel range",
        ),
    )
    assert public.report.calibration_privacy == {
        "protection": "public",
        "detail": "uniform noise over the pixel range",
    }
    ledger = Ledger(delta=1e-5)
    baseline = dp_baseline(
        digits.x_train, lower=0.0, upper=1.0, bins=5, epsilon=1.0, delta=1e-5, ledger=ledger
    )
    dp = convert(mlp, quantization="int8", representative_data=baseline.sample(200, seed=0))
    assert dp.report.calibration_privacy is not None
    assert dp.report.calibration_privacy["protection"] == "dp"
    assert dp.report.calibration_privacy["release"] == "drift baseline"
    item = _quantization_item(dp.bytes)
    assert item.covered
    assert item.protection.release == "drift baseline"
    # calibrating on rows from DP marginals keeps the int8 model useful
    reference = float(np.mean(np.argmax(mlp.predict(digits.x_test, verbose=0), 1) == digits.y_test))
    converted = float(np.mean(np.argmax(dp.predict(digits.x_test), 1) == digits.y_test))
    assert converted >= reference - 0.05
