"""The catalogue of metrics edgeml exports, and their creation in a Prometheus registry.

The catalogue is plain data so that alert rules and dashboards can name metrics without
importing ``prometheus_client``. Label *values* are always configuration (the model name
given by the operator, feature names from the reference, fixed enumerations such as the
error kind): never an input value, a request id or a ground-truth label.

Examples
--------
>>> from edgeml.monitor._metrics import METRICS, exported_names
>>> METRICS[0].name
'edgeml_model_info'
>>> "edgeml_prediction_latency_seconds_bucket" in exported_names()
True
"""

from __future__ import annotations

import bisect
import itertools
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from edgeml._optional import require
from edgeml.errors import ConfigError

__all__ = [
    "DRIFT_STATISTICS",
    "ERROR_KINDS",
    "LABEL_DELAY_BUCKETS",
    "LABEL_OUTCOMES",
    "LATENCY_BUCKETS",
    "METRICS",
    "MetricSpec",
    "exported_names",
    "metrics_for",
]

#: Request latency buckets in seconds: 10 microseconds (a tiny int8 model) to 10 seconds.
LATENCY_BUCKETS: tuple[float, ...] = (
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

#: Delay between a prediction and its ground-truth label, in seconds: 1 s to 1 week.
LABEL_DELAY_BUCKETS: tuple[float, ...] = (
    1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0, 7 * 86400.0,
)  # fmt: skip

#: Values of the ``kind`` label of ``edgeml_errors_total``.
ERROR_KINDS: tuple[str, ...] = ("invalid_input", "too_large", "inference")

#: Values of the ``outcome`` label of ``edgeml_labels_total``.
LABEL_OUTCOMES: tuple[str, ...] = ("joined", "expired", "evicted", "unknown")

#: Values of the ``statistic`` label of the drift gauges.
DRIFT_STATISTICS: tuple[str, ...] = ("psi", "js", "wasserstein")

MetricKind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    """One exported metric: its name as scraped, type, help text, labels and buckets.

    Attributes
    ----------
    name : str
        The family name as it appears in ``/metrics`` (counters end in ``_total``).
    kind : {"counter", "gauge", "histogram"}
        The Prometheus metric type.
    help : str
        The ``# HELP`` text.
    labels : tuple of str
        Label names; every value is configuration or a fixed enumeration.
    buckets : tuple of float
        Histogram bucket upper bounds (empty for other kinds).
    """

    name: str
    kind: MetricKind
    help: str
    labels: tuple[str, ...] = ("model",)
    buckets: tuple[float, ...] = ()

    @property
    def sample_names(self) -> tuple[str, ...]:
        """Names of the samples this metric produces in the text exposition format."""
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_count", f"{self.name}_sum")
        return (self.name,)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe description."""
        return {
            "name": self.name,
            "kind": self.kind,
            "help": self.help,
            "labels": list(self.labels),
            "buckets": list(self.buckets),
        }


#: Every metric a :class:`~edgeml.monitor.ModelMonitor` exports.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "edgeml_model_info",
        "gauge",
        "Always 1; labels name the monitored model and the edgeml version.",
        ("model", "edgeml_version"),
    ),
    MetricSpec(
        "edgeml_requests_total",
        "counter",
        "Prediction requests received (batches), failed ones too.",
    ),
    MetricSpec("edgeml_samples_total", "counter", "Samples (rows) predicted successfully."),
    MetricSpec(
        "edgeml_errors_total",
        "counter",
        "Prediction requests that failed, by kind: " + ", ".join(ERROR_KINDS) + ".",
        ("model", "kind"),
    ),
    MetricSpec(
        "edgeml_prediction_latency_seconds",
        "histogram",
        "Time spent in the model's predict per request, in seconds.",
        buckets=LATENCY_BUCKETS,
    ),
    MetricSpec(
        "edgeml_input_drift",
        "gauge",
        "Drift of each input feature on the sliding window against the reference.",
        ("model", "feature", "statistic"),
    ),
    MetricSpec(
        "edgeml_input_features_drifted",
        "gauge",
        "Number of input features whose PSI exceeds the monitor's threshold.",
    ),
    MetricSpec(
        "edgeml_prediction_drift",
        "gauge",
        "Drift of the prediction distribution on the sliding window against the reference.",
        ("model", "statistic"),
    ),
    MetricSpec("edgeml_drift_window_samples", "gauge", "Samples in the sliding drift window."),
    MetricSpec(
        "edgeml_drift_updated_timestamp_seconds",
        "gauge",
        "Unix time when the drift gauges were last recomputed.",
    ),
    MetricSpec(
        "edgeml_accuracy", "gauge", "Accuracy over the most recent joined ground-truth labels."
    ),
    MetricSpec(
        "edgeml_error_rate",
        "gauge",
        "Error rate (1 - accuracy) over the most recent joined ground-truth labels.",
    ),
    MetricSpec(
        "edgeml_labels_total",
        "counter",
        "Ground-truth labels by outcome: " + ", ".join(LABEL_OUTCOMES) + ".",
        ("model", "outcome"),
    ),
    MetricSpec(
        "edgeml_pending_predictions", "gauge", "Predictions waiting for their ground-truth label."
    ),
    MetricSpec(
        "edgeml_label_delay_seconds",
        "histogram",
        "Delay between a prediction and its ground-truth label, in seconds.",
        buckets=LABEL_DELAY_BUCKETS,
    ),
    MetricSpec(
        "edgeml_concept_drift_state",
        "gauge",
        "State of the concept-drift detector after the last label: 0 stable, 1 warning, "
        "2 drift (detectors reset after an alarm, so 2 is brief; alarms are counted).",
        ("model", "detector"),
    ),
    MetricSpec(
        "edgeml_concept_drift_alarms_total",
        "counter",
        "Alarms of the concept-drift detector watching the error stream.",
        ("model", "detector"),
    ),
)

_BY_NAME = {spec.name: spec for spec in METRICS}


def exported_names() -> frozenset[str]:
    """Return every sample name edgeml can export (``_bucket``/``_count``/``_sum`` included).

    Returns
    -------
    frozenset of str
        The sample names.

    Examples
    --------
    >>> sorted(n for n in exported_names() if n.startswith("edgeml_label_delay"))
    ['edgeml_label_delay_seconds_bucket', 'edgeml_label_delay_seconds_count', 'edgeml_label_delay_seconds_sum']
    """  # noqa: E501
    return frozenset(name for spec in METRICS for name in spec.sample_names)


#: Metrics updated on every prediction: kept as plain numbers under the monitor's lock
#: and exported by one collector per registry, which costs a fraction of a microsecond
#: per call instead of a locked prometheus_client update per metric.
HOT_METRICS = frozenset(
    {"edgeml_requests_total", "edgeml_samples_total", "edgeml_prediction_latency_seconds"}
)


class HotCounts:
    """Request, sample and latency numbers of one model, updated under its lock."""

    __slots__ = ("buckets", "latency_sum", "requests", "samples")

    def __init__(self) -> None:
        self.requests = 0
        self.samples = 0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.latency_sum = 0.0

    def observe(self, latency: float) -> None:
        """Count one request's latency in its (non-cumulative) bucket."""
        # Prometheus buckets are "less than or equal": bisect_left finds the first
        # bound >= latency.
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS, latency)] += 1
        self.latency_sum += latency


class _HotCollector:
    """Exports the :data:`HOT_METRICS` of every model monitored in one registry."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[threading.Lock, HotCounts]] = {}
        self._entries_lock = threading.Lock()  # monitors come and go while Prometheus scrapes

    def attach(self, model: str, lock: threading.Lock) -> HotCounts:
        counts = HotCounts()
        with self._entries_lock:
            self.entries[model] = (lock, counts)
        return counts

    def detach(self, model: str) -> None:
        with self._entries_lock:
            self.entries.pop(model, None)

    def describe(self) -> list[Any]:
        return self._families(with_samples=False)

    def collect(self) -> Iterator[Any]:
        return iter(self._families(with_samples=True))

    def _families(self, *, with_samples: bool) -> list[Any]:
        core = require("prometheus_client.core", extra="monitor", feature="Prometheus metrics")
        utils = require("prometheus_client.utils", extra="monitor", feature="Prometheus metrics")
        requests = core.CounterMetricFamily(
            "edgeml_requests_total", _BY_NAME["edgeml_requests_total"].help, labels=["model"]
        )
        samples = core.CounterMetricFamily(
            "edgeml_samples_total", _BY_NAME["edgeml_samples_total"].help, labels=["model"]
        )
        name = "edgeml_prediction_latency_seconds"
        latency = core.HistogramMetricFamily(name, _BY_NAME[name].help, labels=["model"])
        bounds = [utils.floatToGoString(b) for b in LATENCY_BUCKETS] + ["+Inf"]
        with self._entries_lock:
            entries = sorted(self.entries.items()) if with_samples else []
        for model, (lock, counts) in entries:
            with lock:
                values = (counts.requests, counts.samples, list(counts.buckets))
                total = counts.latency_sum
            requests.add_metric([model], values[0])
            samples.add_metric([model], values[1])
            cumulative = itertools.accumulate(values[2])
            latency.add_metric(
                [model], buckets=list(zip(bounds, cumulative, strict=True)), sum_value=total
            )
        return [requests, samples, latency]


def _create(spec: MetricSpec, registry: Any) -> Any:
    prom = require("prometheus_client", extra="monitor", feature="Prometheus metrics")
    if spec.kind == "counter":
        return prom.Counter(spec.name, spec.help, spec.labels, registry=registry)
    if spec.kind == "gauge":
        return prom.Gauge(spec.name, spec.help, spec.labels, registry=registry)
    return prom.Histogram(
        spec.name, spec.help, spec.labels, registry=registry, buckets=spec.buckets
    )


class _RegistryMetrics:
    """The metric objects of one registry, shared by every monitor registered in it."""

    def __init__(self, registry: Any) -> None:
        self.metrics = {
            spec.name: _create(spec, registry) for spec in METRICS if spec.name not in HOT_METRICS
        }
        self.hot = _HotCollector()
        registry.register(self.hot)
        self.models: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        return self.metrics[name]


_PER_REGISTRY: weakref.WeakKeyDictionary[Any, _RegistryMetrics] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def metrics_for(registry: Any, model: str) -> _RegistryMetrics:
    """Return the metric objects of ``registry``, claiming the label ``model=<model>``.

    Monitors of several models can share one registry (the ``model`` label tells them
    apart); two monitors with the same model name in one registry would mix their
    numbers, so the second is refused.

    Parameters
    ----------
    registry : prometheus_client.CollectorRegistry
        Where the metrics live.
    model : str
        The value of the ``model`` label.

    Returns
    -------
    _RegistryMetrics
        Metric objects by name.

    Raises
    ------
    ConfigError
        When ``model`` is already monitored in ``registry``.
    """
    with _LOCK:
        shared = _PER_REGISTRY.get(registry)
        if shared is None:
            shared = _RegistryMetrics(registry)
            _PER_REGISTRY[registry] = shared
        if model in shared.models:
            raise ConfigError(
                f"A ModelMonitor named {model!r} already exports metrics to this registry. "
                "Fix: give each monitored model its own name=..., or its own registry."
            )
        shared.models.add(model)
        return shared


def release(registry: Any, model: str) -> None:
    """Forget that ``model`` is monitored in ``registry`` and stop exporting its counts.

    Its other series stay until removed (:meth:`ModelMonitor.close` removes them).
    """
    with _LOCK:
        shared = _PER_REGISTRY.get(registry)
        if shared is not None:
            shared.models.discard(model)
            shared.hot.detach(model)


def spec(name: str) -> MetricSpec:
    """Return the :class:`MetricSpec` called ``name``."""
    return _BY_NAME[name]
