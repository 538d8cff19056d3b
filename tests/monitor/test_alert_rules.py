"""Alert rules and scrape config, checked by Prometheus's own ``promtool``.

``promtool check rules`` validates syntax and PromQL; ``promtool test rules`` evaluates
the rules on synthetic series and checks which alerts fire, at which tier and when,
including the rendered annotations (Prometheus's rule unit-testing).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from edgeml.errors import ConfigError
from edgeml.monitor import alert_rules, prometheus_config

yaml = pytest.importorskip("yaml")

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian package 'prometheus'; .ci/prometheus.sh installs it)",
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


def test_rules_parse_as_yaml_with_two_tiers_for_each_family() -> None:
    document = yaml.safe_load(alert_rules())
    rules = document["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    for family in ("InputDrift", "PredictionDrift", "AccuracyDrop", "HighLatency", "HighErrorRate"):
        assert {f"EdgeML{family}Warning", f"EdgeML{family}Critical"} <= names
    tiers = {rule["alert"]: (rule["labels"]["severity"], rule["for"]) for rule in rules}
    assert {rule["labels"]["family"] for rule in rules} == {
        "InputDrift", "PredictionDrift", "AccuracyDrop", "HighLatency", "HighErrorRate",
        "LabelsMissing", "ConceptDrift",
    }  # fmt: skip
    assert tiers["EdgeMLInputDriftWarning"] == ("warning", "30m")
    assert tiers["EdgeMLInputDriftCritical"] == ("critical", "10m")


@needs_promtool
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"model": "digits", "drift_statistic": "js", "for_warning": "1h", "for_critical": "2m"},
        {"drift_statistic": "wasserstein", "drift": (0.5, 1.0), "prediction_drift": (0.2, 0.4)},
    ],
)
def test_promtool_accepts_the_rules(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    path = tmp_path / "alerts.yml"
    alert_rules(path, **kwargs)
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 12 rules found" in result.stdout


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _alert(labels: dict[str, str], summary: str, description: str) -> dict[str, Any]:
    return {
        "exp_labels": labels,
        "exp_annotations": {"summary": summary, "description": description},
    }


@needs_promtool
def test_tiers_fire_after_their_for_durations(tmp_path: Path) -> None:
    alert_rules(tmp_path / "alerts.yml")
    m = {"model": "m"}
    drift_moderate = {**m, "feature": "age", "statistic": "psi"}
    drift_severe = {**m, "feature": "bmi", "statistic": "psi"}
    psi_warning = "PSI".lower()
    tests = {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # "age" drifts moderately (0.15: warning tier only), "bmi" severely.
                    _series("edgeml_input_drift", drift_moderate, "0.15x90"),
                    _series("edgeml_input_drift", drift_severe, "0.4x90"),
                ],
                "alert_rule_test": [
                    # 20 minutes in: the severe one held 10m -> critical; the warning
                    # tier needs 30m, so nothing yet.
                    {"eval_time": "20m", "alertname": "EdgeMLInputDriftWarning", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "EdgeMLInputDriftCritical",
                        "exp_alerts": [
                            _alert(
                                {
                                    **m,
                                    "feature": "bmi",
                                    "severity": "critical",
                                    "family": "InputDrift",
                                },
                                "Input feature bmi of m drifted",
                                f"{psi_warning} = 0.400 on the sliding window against the "
                                "reference (threshold 0.25).",
                            )
                        ],
                    },
                    {
                        "eval_time": "45m",
                        "alertname": "EdgeMLInputDriftWarning",
                        "exp_alerts": [
                            _alert(
                                {
                                    **m,
                                    "feature": feature,
                                    "severity": "warning",
                                    "family": "InputDrift",
                                },
                                f"Input feature {feature} of m drifted",
                                f"psi = {value} on the sliding window against the "
                                "reference (threshold 0.1).",
                            )
                            for feature, value in (("age", "0.150"), ("bmi", "0.400"))
                        ],
                    },
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    _series("edgeml_accuracy", m, "0.85x90"),
                    _series("edgeml_labels_total", {**m, "outcome": "joined"}, "0+10x90"),
                    # Another model below the critical tier but with only 30 labels an hour.
                    _series("edgeml_accuracy", {"model": "few"}, "0.5x90"),
                    _series(
                        "edgeml_labels_total", {"model": "few", "outcome": "joined"}, "0+0.5x90"
                    ),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "80m",
                        "alertname": "EdgeMLAccuracyDropWarning",
                        "exp_alerts": [
                            _alert(
                                {**m, "severity": "warning", "family": "AccuracyDrop"},
                                "Accuracy of m dropped",
                                "Accuracy on recent ground-truth labels is 0.850 (threshold 0.9).",
                            )
                        ],
                    },
                    {
                        "eval_time": "80m",
                        "alertname": "EdgeMLAccuracyDropCritical",
                        "exp_alerts": [],
                    },
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    _series("edgeml_requests_total", m, "0+100x60"),
                    _series("edgeml_errors_total", {**m, "kind": "inference"}, "0+10x60"),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "30m",
                        "alertname": "EdgeMLHighErrorRateCritical",
                        "exp_alerts": [
                            _alert(
                                {**m, "severity": "critical", "family": "HighErrorRate"},
                                "Requests to m are failing",
                                "10% of requests failed (threshold 0.05).",
                            )
                        ],
                    }
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    # Every request takes between 1 s and 2.5 s: p99 is near 2.5 s.
                    _series("edgeml_prediction_latency_seconds_bucket", {**m, "le": "1.0"}, "0x60"),
                    _series(
                        "edgeml_prediction_latency_seconds_bucket", {**m, "le": "2.5"}, "0+60x60"
                    ),
                    _series(
                        "edgeml_prediction_latency_seconds_bucket", {**m, "le": "+Inf"}, "0+60x60"
                    ),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "30m",
                        "alertname": "EdgeMLHighLatencyCritical",
                        "exp_alerts": [
                            _alert(
                                {**m, "severity": "critical", "family": "HighLatency"},
                                "Prediction latency of m is high",
                                # histogram_quantile interpolates 1 + 0.99 * 1.5 = 2.485 s.
                                "p99 latency is 2.485s (threshold 1 s).",
                            )
                        ],
                    }
                ],
            },
        ],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = _promtool("test", "rules", str(tmp_path / "tests.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_scrape_config(tmp_path: Path) -> None:
    alert_rules(tmp_path / "alerts.yml")
    prometheus_config(
        ["127.0.0.1:8000", "app:9000"], tmp_path / "prometheus.yml", rule_files=["alerts.yml"]
    )
    result = _promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"drift": (0.3, 0.2)}, "warning < critical"),
        ({"accuracy": (0.8, 0.9)}, "warning > critical"),
        ({"error_rate": (0.5, 2.0)}, r"values in \[0, 1.0\]"),
        ({"for_warning": "ten minutes"}, "Prometheus duration"),
        ({"drift_statistic": "kl"}, "one of 'psi'"),
        ({"min_labels": 0}, "integer >= 1"),
    ],
)
def test_bad_thresholds_are_config_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        alert_rules(**kwargs)


def test_scrape_config_rejects_urls() -> None:
    with pytest.raises(ConfigError, match="host:port"):
        prometheus_config(["http://app:8000/metrics"])
