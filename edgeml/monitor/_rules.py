"""Prometheus configuration we generate: tiered alerting rules and a scrape configuration.

Alerts come in two tiers. ``warning`` fires on a moderate threshold held for a long
time (``for_warning``, default 30 minutes): worth a look during working hours.
``critical`` fires on a severe threshold held for a shorter time (``for_critical``,
default 10 minutes): worth waking someone. Requiring the condition to hold, and
guarding accuracy alerts with a minimum number of recent labels, keeps one noisy
scrape or a handful of labels from paging anyone.

Examples
--------
>>> from edgeml.monitor import alert_rules
>>> text = alert_rules(for_warning="1h")
>>> text.splitlines()[0]
'groups:'
>>> "EdgeMLInputDriftCritical" in text and 'for: "1h"' in text
True
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from typing import Any

from edgeml._io import atomic_write
from edgeml.errors import invalid_argument
from edgeml.monitor._yaml import dump

__all__ = ["alert_rules", "prometheus_config"]

_DURATION = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$")
_TARGET = re.compile(r"^[A-Za-z0-9._\-\[\]:]+:[0-9]{1,5}$")

# Usual thresholds per drift statistic (warning, critical). PSI: 0.1 "some shift",
# 0.25 "major shift" is the long-standing rule of thumb from credit scoring. JS distance
# (base 2) lies in [0, 1]. Wasserstein is exported in reference standard deviations.
_DRIFT_DEFAULTS: dict[str, tuple[float, float]] = {
    "psi": (0.1, 0.25),
    "js": (0.1, 0.2),
    "wasserstein": (0.1, 0.25),
}


def _check_duration(owner: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not _DURATION.match(value):
        raise invalid_argument(owner, name, value, "a Prometheus duration such as '30m' or '1h'")
    return value


def _check_tiers(
    name: str, tiers: object, *, higher_is_worse: bool, upper: float | None = None
) -> tuple[float, float]:
    ordered = "warning < critical" if higher_is_worse else "warning > critical"
    expected = f"a pair (warning, critical) of finite numbers with {ordered}"
    if not (isinstance(tiers, (tuple, list)) and len(tiers) == 2):
        raise invalid_argument("alert_rules", name, tiers, expected)
    warning, critical = tiers
    numbers = all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in (warning, critical)
    )
    if not numbers or (warning >= critical if higher_is_worse else warning <= critical):
        raise invalid_argument("alert_rules", name, tiers, expected)
    if upper is not None and not (0 <= critical <= upper and 0 <= warning <= upper):
        raise invalid_argument("alert_rules", name, tiers, f"values in [0, {upper}]")
    return float(warning), float(critical)


def _selector(matchers: dict[str, str], **regex: str) -> str:
    parts = [f"{key}={json.dumps(value)}" for key, value in matchers.items()]
    parts += [f"{key}=~{json.dumps(value)}" for key, value in regex.items()]
    return "{" + ",".join(parts) + "}" if parts else ""


def _rule(
    alert: str, expr: str, severity: str, duration: str, summary: str, description: str
) -> dict[str, Any]:
    # "family" names the alert without its tier, so Alertmanager can silence a warning
    # while the critical alert of the same family and model fires.
    family = alert.removeprefix("EdgeML").removesuffix("Warning").removesuffix("Critical")
    return {
        "alert": alert,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity, "family": family},
        "annotations": {"summary": summary, "description": description},
    }


def alert_rules(
    path: str | os.PathLike[str] | None = None,
    *,
    model: str | None = None,
    drift_statistic: str = "psi",
    drift: tuple[float, float] | None = None,
    prediction_drift: tuple[float, float] | None = None,
    accuracy: tuple[float, float] = (0.9, 0.8),
    min_labels: int = 100,
    latency_seconds: tuple[float, float] = (0.25, 1.0),
    latency_quantile: float = 0.99,
    error_rate: tuple[float, float] = (0.01, 0.05),
    missing_labels: float = 0.5,
    for_warning: str = "30m",
    for_critical: str = "10m",
    rate_window: str = "5m",
    group: str = "edgeml",
) -> str:
    """Return (and optionally write) Prometheus alerting rules for edgeml's metrics.

    Every threshold pair is ``(warning, critical)``. Rules cover input drift per feature,
    prediction drift, accuracy drop (only once ``min_labels`` labels joined in the last
    hour), a latency quantile, the request error rate, labels that never arrive, and
    concept-drift detector alarms. Route ``critical`` to paging and ``warning`` to a
    ticket queue in Alertmanager, and inhibit a warning while its critical twin fires
    (see the monitoring guide).

    Parameters
    ----------
    path : str or os.PathLike, optional
        Where to write the YAML (atomically); nothing is written when omitted.
    model : str, optional
        Restrict the rules to ``model="<model>"``; by default they apply to every model.
    drift_statistic : {"psi", "js", "wasserstein"}, default "psi"
        Which ``edgeml_input_drift`` / ``edgeml_prediction_drift`` statistic to alert on.
    drift, prediction_drift : (float, float), optional
        Thresholds for input and prediction drift; default (0.1, 0.25) for PSI,
        (0.1, 0.2) for JS distance, (0.1, 0.25) for Wasserstein (which edgeml exports
        in reference standard deviations; classifiers export no Wasserstein prediction
        drift, class ids having no distance).
    accuracy : (float, float), default (0.9, 0.8)
        Alert when accuracy falls *below* these.
    min_labels : int, default 100
        Joined labels needed in the last hour before accuracy alerts may fire.
    latency_seconds : (float, float), default (0.25, 1.0)
        Thresholds on the ``latency_quantile`` of request latency.
    latency_quantile : float, default 0.99
        Which quantile of ``edgeml_prediction_latency_seconds`` to watch.
    error_rate : (float, float), default (0.01, 0.05)
        Thresholds on failed requests / requests.
    missing_labels : float, default 0.5
        Warn when more than this fraction of last hour's predictions lost their label.
    for_warning, for_critical : str, default "30m", "10m"
        How long a condition must hold before its alert fires.
    rate_window : str, default "5m"
        The range used in ``rate()`` for latency and error rate.
    group : str, default "edgeml"
        The rule group's name.

    Returns
    -------
    str
        The rules file, ready for ``rule_files:`` in ``prometheus.yml``.

    Raises
    ------
    ConfigError
        When a threshold pair is not ordered for its tiers or a duration is not a
        Prometheus duration.

    Examples
    --------
    >>> text = alert_rules(model="digits", accuracy=(0.95, 0.85))
    >>> 'edgeml_accuracy{model="digits"}) < 0.85' in text
    True
    >>> alert_rules(accuracy=(0.8, 0.9))
    Traceback (most recent call last):
    ...
    edgeml.errors.ConfigError: The 'accuracy' argument of alert_rules must be a pair (warning, critical) of finite numbers with warning > critical. Got (0.8, 0.9) instead.
    """  # noqa: E501
    warn_for = _check_duration("alert_rules", "for_warning", for_warning)
    crit_for = _check_duration("alert_rules", "for_critical", for_critical)
    window = _check_duration("alert_rules", "rate_window", rate_window)
    if drift_statistic not in ("psi", "js", "wasserstein"):
        raise invalid_argument(
            "alert_rules", "drift_statistic", drift_statistic, "one of 'psi', 'js', 'wasserstein'"
        )
    default = _DRIFT_DEFAULTS[drift_statistic]
    drift_t = _check_tiers("drift", drift or default, higher_is_worse=True)
    pred_t = _check_tiers("prediction_drift", prediction_drift or default, higher_is_worse=True)
    acc_t = _check_tiers("accuracy", accuracy, higher_is_worse=False, upper=1.0)
    lat_t = _check_tiers("latency_seconds", latency_seconds, higher_is_worse=True)
    err_t = _check_tiers("error_rate", error_rate, higher_is_worse=True, upper=1.0)
    if isinstance(min_labels, bool) or not isinstance(min_labels, int) or min_labels < 1:
        raise invalid_argument("alert_rules", "min_labels", min_labels, "an integer >= 1")
    if not (isinstance(latency_quantile, float) and 0 < latency_quantile < 1):
        raise invalid_argument(
            "alert_rules", "latency_quantile", latency_quantile, "a float in (0, 1)"
        )
    if not (isinstance(missing_labels, (int, float)) and 0 < missing_labels < 1):
        raise invalid_argument("alert_rules", "missing_labels", missing_labels, "a float in (0, 1)")
    if model is not None and (not isinstance(model, str) or not model):
        raise invalid_argument("alert_rules", "model", model, "a non-empty model name")

    only_model = {"model": model} if model else {}
    stat = {**only_model, "statistic": drift_statistic}
    m = _selector(only_model)
    tiers = (("Warning", "warning", warn_for, 0), ("Critical", "critical", crit_for, 1))
    joined = _selector({**only_model, "outcome": "joined"})
    lost = _selector(only_model, outcome="expired|evicted")
    settled = _selector(only_model, outcome="joined|expired|evicted")
    quantile = f"{latency_quantile:g}"

    rules: list[dict[str, Any]] = []
    for suffix, severity, duration, i in tiers:
        rules.append(
            _rule(
                f"EdgeMLInputDrift{suffix}",
                f"max by (model, feature) (edgeml_input_drift{_selector(stat)}) > {drift_t[i]:g}",
                severity,
                duration,
                "Input feature {{ $labels.feature }} of {{ $labels.model }} drifted",
                f'{drift_statistic} = {{{{ $value | printf "%.3f" }}}} on the sliding window '
                f"against the reference (threshold {drift_t[i]:g}).",
            )
        )
        rules.append(
            _rule(
                f"EdgeMLPredictionDrift{suffix}",
                f"max by (model) (edgeml_prediction_drift{_selector(stat)}) > {pred_t[i]:g}",
                severity,
                duration,
                "Predictions of {{ $labels.model }} drifted",
                f'{drift_statistic} = {{{{ $value | printf "%.3f" }}}} between recent and '
                f"reference predictions (threshold {pred_t[i]:g}).",
            )
        )
        rules.append(
            _rule(
                f"EdgeMLAccuracyDrop{suffix}",
                f"(min by (model) (edgeml_accuracy{m}) < {acc_t[i]:g}) and on (model) "
                f"(sum by (model) (increase(edgeml_labels_total{joined}[1h])) >= {min_labels})",
                severity,
                duration,
                "Accuracy of {{ $labels.model }} dropped",
                f'Accuracy on recent ground-truth labels is {{{{ $value | printf "%.3f" }}}} '
                f"(threshold {acc_t[i]:g}).",
            )
        )
        rules.append(
            _rule(
                f"EdgeMLHighLatency{suffix}",
                f"histogram_quantile({quantile}, sum by (model, le) "
                f"(rate(edgeml_prediction_latency_seconds_bucket{m}[{window}]))) > {lat_t[i]:g}",
                severity,
                duration,
                "Prediction latency of {{ $labels.model }} is high",
                f"p{latency_quantile * 100:g} latency is {{{{ $value | humanizeDuration }}}} "
                f"(threshold {lat_t[i]:g} s).",
            )
        )
        rules.append(
            _rule(
                f"EdgeMLHighErrorRate{suffix}",
                f"sum by (model) (rate(edgeml_errors_total{m}[{window}])) / sum by (model) "
                f"(rate(edgeml_requests_total{m}[{window}])) > {err_t[i]:g}",
                severity,
                duration,
                "Requests to {{ $labels.model }} are failing",
                f"{{{{ $value | humanizePercentage }}}} of requests failed "
                f"(threshold {err_t[i]:g}).",
            )
        )
    rules.append(
        _rule(
            "EdgeMLLabelsMissing",
            f"sum by (model) (increase(edgeml_labels_total{lost}[1h])) / clamp_min(sum by "
            f"(model) (increase(edgeml_labels_total{settled}[1h])), 1) > {missing_labels:g}",
            "warning",
            warn_for,
            "Ground-truth labels of {{ $labels.model }} are not arriving",
            "{{ $value | humanizePercentage }} of last hour's predictions never got a label; "
            "accuracy gauges are based on few samples.",
        )
    )
    rules.append(
        _rule(
            "EdgeMLConceptDrift",
            f"sum by (model) (increase(edgeml_concept_drift_alarms_total{m}[1h])) > 0",
            "warning",
            "0m",
            "Concept drift detected for {{ $labels.model }}",
            "The streaming detector on the error stream raised an alarm in the last hour.",
        )
    )
    text = dump({"groups": [{"name": group, "rules": rules}]})
    if path is not None:
        atomic_write(path, text)
    return text


def prometheus_config(
    targets: Sequence[str],
    path: str | os.PathLike[str] | None = None,
    *,
    scrape_interval: str = "15s",
    job: str = "edgeml",
    rule_files: Sequence[str] = (),
) -> str:
    """Return (and optionally write) a ``prometheus.yml`` that scrapes edgeml servers.

    Parameters
    ----------
    targets : sequence of str
        ``host:port`` of each ``edgeml serve`` (``/metrics`` is scraped).
    path : str or os.PathLike, optional
        Where to write the file (atomically).
    scrape_interval : str, default "15s"
        How often Prometheus scrapes (and evaluates rules).
    job : str, default "edgeml"
        The ``job`` label Prometheus attaches.
    rule_files : sequence of str
        Paths of rule files, e.g. the one written by :func:`alert_rules`.

    Returns
    -------
    str
        The configuration file.

    Examples
    --------
    >>> print(prometheus_config(["app:8000"], rule_files=["alerts.yml"]), end="")
    global:
      scrape_interval: "15s"
      evaluation_interval: "15s"
    rule_files:
      - "alerts.yml"
    scrape_configs:
      - job_name: "edgeml"
        metrics_path: "/metrics"
        static_configs:
          - targets:
              - "app:8000"
    """
    interval = _check_duration("prometheus_config", "scrape_interval", scrape_interval)
    if (
        isinstance(targets, str)
        or not targets
        or not all(isinstance(t, str) and _TARGET.match(t) for t in targets)
    ):
        raise invalid_argument(
            "prometheus_config", "targets", targets, "a non-empty list of 'host:port' strings"
        )
    document: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval}
    }
    if rule_files:
        document["rule_files"] = [str(f) for f in rule_files]
    document["scrape_configs"] = [
        {
            "job_name": job,
            "metrics_path": "/metrics",
            "static_configs": [{"targets": list(targets)}],
        }
    ]
    text = dump(document)
    if path is not None:
        atomic_write(path, text)
    return text
