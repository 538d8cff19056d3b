"""Prometheus metrics for models and drift, delayed-label accuracy, alerts and serving.

``import edgeml.monitor`` is light: each name below is imported on first use, and
``prometheus_client`` (extra ``monitor``) or FastAPI/uvicorn (extra ``serve``) only when
a monitor or an app is created.

Only aggregates leave the process: counters, histograms and drift statistics whose
label values are configuration (model name, feature names, fixed enumerations), never
an input value, a request id or a ground-truth label.

Examples
--------
>>> import edgeml.monitor as monitor
>>> "ModelMonitor" in monitor.__all__
True
>>> sorted(n for n in monitor.__all__ if n[0].islower())
['alert_rules', 'create_app', 'grafana_dashboard', 'prometheus_config']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs only
    from edgeml.monitor._app import create_app
    from edgeml.monitor._dashboard import grafana_dashboard
    from edgeml.monitor._labels import JoinResult, LabelJoin, LabelStats
    from edgeml.monitor._metrics import METRICS, MetricSpec
    from edgeml.monitor._monitor import ModelMonitor, MonitorSnapshot
    from edgeml.monitor._rules import alert_rules, prometheus_config

__all__ = [
    "METRICS",
    "JoinResult",
    "LabelJoin",
    "LabelStats",
    "MetricSpec",
    "ModelMonitor",
    "MonitorSnapshot",
    "alert_rules",
    "create_app",
    "grafana_dashboard",
    "prometheus_config",
]

_LAZY: dict[str, str] = {
    "METRICS": "edgeml.monitor._metrics",
    "JoinResult": "edgeml.monitor._labels",
    "LabelJoin": "edgeml.monitor._labels",
    "LabelStats": "edgeml.monitor._labels",
    "MetricSpec": "edgeml.monitor._metrics",
    "ModelMonitor": "edgeml.monitor._monitor",
    "MonitorSnapshot": "edgeml.monitor._monitor",
    "alert_rules": "edgeml.monitor._rules",
    "create_app": "edgeml.monitor._app",
    "grafana_dashboard": "edgeml.monitor._dashboard",
    "prometheus_config": "edgeml.monitor._rules",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeml.monitor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
