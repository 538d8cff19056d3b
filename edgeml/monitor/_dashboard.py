"""A Grafana dashboard over the metrics edgeml exports.

Examples
--------
>>> from edgeml.monitor import grafana_dashboard
>>> board = grafana_dashboard(title="digits")
>>> board["title"], len(board["panels"]) >= 8
('digits', True)
"""

from __future__ import annotations

import json
import os
from typing import Any

from edgeml._io import atomic_write
from edgeml.errors import invalid_argument

__all__ = ["grafana_dashboard"]

_MODEL = '{model=~"$model"}'


def _panel(
    panel_id: int,
    title: str,
    targets: list[tuple[str, str]],
    *,
    unit: str,
    datasource: dict[str, str],
    x: int,
    y: int,
    description: str,
    max_value: float | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit}
    if max_value is not None:
        defaults.update(min=0, max=max_value)
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": datasource,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": datasource,
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def grafana_dashboard(
    path: str | os.PathLike[str] | None = None,
    *,
    title: str = "edgeml model monitoring",
    datasource_uid: str = "prometheus",
    drift_statistic: str = "psi",
    refresh: str = "30s",
) -> dict[str, Any]:
    """Return (and optionally write) a Grafana dashboard for edgeml's metrics.

    Panels: request and sample rates, error rate by kind, latency percentiles
    (p50/p90/p99), input drift per feature, prediction drift, features over the drift
    threshold, accuracy and error rate over time, label outcomes and pending predictions,
    and concept-drift alarms. A ``model`` variable selects one or more monitored models.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Where to write the JSON (atomically); nothing is written when omitted.
    title : str, default "edgeml model monitoring"
        The dashboard's title.
    datasource_uid : str, default "prometheus"
        The uid of the Prometheus data source in Grafana (the provisioning file in the
        monitoring guide declares this uid).
    drift_statistic : {"psi", "js", "wasserstein"}, default "psi"
        Which drift statistic the drift panels show.
    refresh : str, default "30s"
        Auto-refresh interval.

    Returns
    -------
    dict
        The dashboard model (what Grafana's "Import dashboard" or file provisioning reads).

    Examples
    --------
    >>> board = grafana_dashboard(drift_statistic="js")
    >>> [t["expr"] for t in board["panels"][4]["targets"]]
    ['edgeml_input_drift{model=~"$model",statistic="js"}']
    """
    if drift_statistic not in ("psi", "js", "wasserstein"):
        raise invalid_argument(
            "grafana_dashboard",
            "drift_statistic",
            drift_statistic,
            "one of 'psi', 'js', 'wasserstein'",
        )
    source = {"type": "prometheus", "uid": datasource_uid}
    stat = f'{{model=~"$model",statistic="{drift_statistic}"}}'
    rate = "$__rate_interval"
    latency = f"edgeml_prediction_latency_seconds_bucket{_MODEL}[{rate}]"
    specs: list[tuple[str, list[tuple[str, str]], str, str, float | None]] = [
        (
            "Requests and samples per second",
            [
                (
                    f"sum by (model) (rate(edgeml_requests_total{_MODEL}[{rate}]))",
                    "{{model}} requests",
                ),
                (
                    f"sum by (model) (rate(edgeml_samples_total{_MODEL}[{rate}]))",
                    "{{model}} samples",
                ),
            ],
            "reqps",
            "Prediction requests (batches) and samples predicted per second.",
            None,
        ),
        (
            "Failed requests (fraction)",
            [
                (
                    f"sum by (model, kind) (rate(edgeml_errors_total{_MODEL}[{rate}])) / "
                    f"ignoring (kind) group_left sum by (model) "
                    f"(rate(edgeml_requests_total{_MODEL}[{rate}]))",
                    "{{model}} {{kind}}",
                )
            ],
            "percentunit",
            "Failed requests over all requests, by kind of failure.",
            None,
        ),
        (
            "Latency percentiles",
            [
                (
                    f"histogram_quantile({q}, sum by (model, le) (rate({latency})))",
                    f"{{{{model}}}} p{int(q * 100)}",
                )
                for q in (0.5, 0.9, 0.99)
            ],
            "s",
            "Time spent in predict per request.",
            None,
        ),
        (
            "Accuracy and error rate (delayed labels)",
            [
                (f"edgeml_accuracy{_MODEL}", "{{model}} accuracy"),
                (f"edgeml_error_rate{_MODEL}", "{{model}} error rate"),
            ],
            "percentunit",
            "Over the most recent joined ground-truth labels.",
            1.0,
        ),
        (
            f"Input drift per feature ({drift_statistic})",
            [(f"edgeml_input_drift{stat}", "{{model}} {{feature}}")],
            "none",
            "Sliding window against the reference sketch, per input feature.",
            None,
        ),
        (
            f"Prediction drift ({drift_statistic})",
            [(f"edgeml_prediction_drift{stat}", "{{model}}")],
            "none",
            "Distribution of recent predictions against predictions on the reference.",
            None,
        ),
        (
            "Features over the drift threshold",
            [(f"edgeml_input_features_drifted{_MODEL}", "{{model}}")],
            "none",
            "Number of input features whose PSI exceeds the monitor's threshold.",
            None,
        ),
        (
            "Ground-truth labels",
            [
                (
                    f"sum by (model, outcome) (increase(edgeml_labels_total{_MODEL}[{rate}]))",
                    "{{model}} {{outcome}}",
                ),
                (f"edgeml_pending_predictions{_MODEL}", "{{model}} pending"),
            ],
            "short",
            "Labels joined, expired (never arrived), evicted, unknown; predictions waiting.",
            None,
        ),
        (
            "Concept-drift alarms",
            [
                (
                    f"sum by (model, detector) "
                    f"(increase(edgeml_concept_drift_alarms_total{_MODEL}[1h]))",
                    "{{model}} {{detector}} alarms per hour",
                ),
                (
                    f"max_over_time(edgeml_concept_drift_state{_MODEL}[{rate}])",
                    "{{model}} {{detector}} state (1 warning, 2 drift)",
                ),
            ],
            "short",
            "Alarms of the streaming detector on the error stream, and its state.",
            None,
        ),
        (
            "Drift window",
            [(f"edgeml_drift_window_samples{_MODEL}", "{{model}} samples in window")],
            "short",
            "Samples the drift gauges are computed on.",
            None,
        ),
    ]
    panels = [
        _panel(
            i + 1,
            panel_title,
            targets,
            unit=unit,
            datasource=source,
            x=12 * (i % 2),
            y=8 * (i // 2),
            description=description,
            max_value=max_value,
        )
        for i, (panel_title, targets, unit, description, max_value) in enumerate(specs)
    ]
    board: dict[str, Any] = {
        "uid": "edgeml-monitoring",
        "title": title,
        "tags": ["edgeml"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": refresh,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "model",
                    "label": "model",
                    "type": "query",
                    "datasource": source,
                    "query": {"query": "label_values(edgeml_model_info, model)", "refId": "model"},
                    "definition": "label_values(edgeml_model_info, model)",
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                }
            ]
        },
        "panels": panels,
    }
    if path is not None:
        atomic_write(path, json.dumps(board, indent=2) + "\n")
    return board
