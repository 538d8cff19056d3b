"""``ModelMonitor``: wrap a model's predict and export Prometheus metrics.

Examples
--------
>>> import numpy as np
>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from edgeml.monitor import ModelMonitor
>>> class Doubler:                       # any object with predict(x) -> array
...     def predict(self, x):
...         return np.asarray(x, dtype=np.float32) * 2
>>> registry = CollectorRegistry()
>>> reference = np.random.default_rng(0).normal(size=(500, 2))
>>> monitor = ModelMonitor(Doubler(), reference=reference, registry=registry, name="demo",
...                        window=200, recompute_every=100)
>>> _ = monitor.predict(reference[:300] + 3.0)          # a shifted batch
>>> snapshot = monitor.snapshot()
>>> snapshot.requests, snapshot.samples, snapshot.features_drifted
(1, 300, 2)
>>> b'edgeml_input_drift{feature="x0",model="demo",statistic="psi"}' in generate_latest(registry)
True
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeml import __version__
from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml._optional import require
from edgeml.errors import ConfigError, DataError, EdgeMLError, invalid_argument
from edgeml.monitor._drift import DriftTracker, _primary_output
from edgeml.monitor._labels import ErrorStreamDetector, JoinResult, LabelJoin, LabelStats
from edgeml.monitor._metrics import ERROR_KINDS, LABEL_OUTCOMES, metrics_for, release, spec

__all__ = ["ModelMonitor", "MonitorSnapshot"]

logger = logging.getLogger("edgeml.monitor")


@dataclass(frozen=True)
class MonitorSnapshot:
    """What a :class:`ModelMonitor` has seen, as plain values.

    Attributes
    ----------
    model : str
        The ``model`` label.
    requests, samples : int
        Prediction requests received (failed ones included) and samples predicted.
    errors : dict of str to int
        Failed requests by kind (``invalid_input``, ``too_large``, ``inference``).
    window_samples : int
        Samples in the drift window at the last recomputation.
    input_drift : dict of str to dict of str to float
        ``{feature: {statistic: value}}`` at the last recomputation (empty before).
    prediction_drift : dict of str to float
        ``{statistic: value}`` for the prediction distribution (empty before).
    features_drifted : int
        Input features whose PSI exceeded the monitor's ``psi_threshold``.
    labels : LabelStats
        Delayed-label counts and accuracy.
    """

    model: str
    requests: int
    samples: int
    errors: dict[str, int]
    window_samples: int
    input_drift: dict[str, dict[str, float]]
    prediction_drift: dict[str, float]
    features_drifted: int
    labels: LabelStats = field(repr=False)

    def __repr__(self) -> str:
        accuracy = self.labels.accuracy
        acc = "None" if accuracy is None else f"{accuracy:.3f}"
        return (
            f"MonitorSnapshot(model={self.model!r}, requests={self.requests}, "
            f"samples={self.samples}, errors={sum(self.errors.values())}, "
            f"features_drifted={self.features_drifted}, accuracy={acc})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "model": self.model,
            "requests": self.requests,
            "samples": self.samples,
            "errors": dict(self.errors),
            "window_samples": self.window_samples,
            "input_drift": to_jsonable(self.input_drift),
            "prediction_drift": to_jsonable(self.prediction_drift),
            "features_drifted": self.features_drifted,
            "labels": self.labels.to_dict(),
        }

    def _drift_rows(self) -> tuple[list[str], list[list[Any]]]:
        statistics = sorted({s for values in self.input_drift.values() for s in values})
        rows = [
            [feature, *(values.get(s) for s in statistics)]
            for feature, values in self.input_drift.items()
        ]
        if self.prediction_drift:
            rows.append(["(predictions)", *(self.prediction_drift.get(s) for s in statistics)])
        return ["feature", *statistics], rows

    def to_markdown(self) -> str:
        """Return the drift table as Markdown."""
        headers, rows = self._drift_rows()
        return markdown_table(headers, rows)

    def _repr_html_(self) -> str:
        headers, rows = self._drift_rows()
        return html_table(headers, rows, caption=repr(self))


def _default_decision(outputs: np.ndarray) -> np.ndarray:
    """Predicted class per row: argmax of several outputs, ``score >= 0.5`` of one."""
    flat = outputs if outputs.ndim == 2 else outputs.reshape(outputs.shape[0], -1)
    if flat.shape[1] > 1:
        classes: np.ndarray = flat.argmax(axis=1)
        return classes
    return (flat[:, 0] >= 0.5).astype(np.int64)


def _class_count(outputs: np.ndarray) -> int:
    """Classes the default decision can return for these outputs."""
    width = int(np.prod(outputs.shape[1:])) if outputs.ndim > 1 else 1
    return max(2, width)


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise invalid_argument("ModelMonitor", name, value, "an integer >= 1")
    return int(value)


class ModelMonitor:
    """Wrap a model's ``predict`` and export Prometheus metrics about it.

    Each call records the request and sample counters and the latency histogram. With a
    ``reference`` (inputs the model was validated on), the monitor also keeps a sliding
    window of the last ``window`` samples and, every ``recompute_every`` samples,
    recomputes per-feature input drift (PSI, JS distance, Wasserstein) and prediction
    drift against sketches of the reference. With ``ids``, predictions wait for their
    delayed ground-truth labels (:meth:`record_label`) to update accuracy gauges and a
    concept-drift detector on the error stream.

    Only aggregates are exported; see :data:`edgeml.monitor.METRICS` for every metric.

    Parameters
    ----------
    model : object
        Anything with ``predict(x) -> numpy.ndarray`` of one row per input row, such as
        an :class:`edgeml.runtime.EdgeModel`.
    reference : array_like, optional
        Reference inputs, shape ``(n, ...)`` like the model's input. Without it no drift
        is computed.
    registry : prometheus_client.CollectorRegistry, optional
        Where to register metrics; defaults to prometheus_client's global ``REGISTRY``.
        Several monitors may share a registry if their ``name`` differs.
    name : str, optional
        The ``model`` label value; defaults to ``model.name`` when present, else ``"model"``.
    window : int, default 1000
        Samples in the sliding drift window.
    recompute_every : int, optional
        Recompute the drift gauges after this many new samples (default ``window // 2``);
        between recomputations the hot path only copies a few numbers per sample.
    bins : int, default 10
        Quantile bins of the reference sketches.
    psi_threshold : float, default 0.25
        A feature counts in ``edgeml_input_features_drifted`` when its PSI exceeds this.
    features : callable, optional
        ``features(x) -> (n, k)`` array of the numbers to watch per sample. By default a
        2-D input with at most 64 columns is watched column by column; any other input
        (images, wide vectors) by each sample's mean and standard deviation (estimated on
        at most 256 evenly spaced values, so the hot path stays cheap).
    feature_names : sequence of str, optional
        Names of the ``k`` watched features, the ``feature`` label of the drift metrics.
        By default, for inputs watched column by column: a DataFrame ``reference``'s
        column names, else the names in the drift baseline of the model's card (when it
        was fitted on named columns), else ``x0, x1, ...``; ``mean, std`` for wide inputs.
        With a DataFrame reference, DataFrame batches must have its columns in its order
        (a :class:`~edgeml.errors.DataError` otherwise, so no drift is misattributed).
    decision : callable, optional
        ``decision(outputs) -> (n,)`` predicted labels, used for the prediction
        distribution and the delayed-label join. Default: argmax of several outputs,
        ``score >= 0.5`` for a single output.
    label_ttl : float, default 86400.0
        Seconds a prediction waits for its ground-truth label.
    max_pending : int, default 100_000
        Predictions waiting for labels, at most.
    label_window : int, default 1000
        Joined labels the accuracy gauge is computed over.
    concept_detector : object or None, default "ddm"
        Detector fed the 0/1 error stream: ``"ddm"`` for :class:`edgeml.drift.DDM`, any
        object with ``update(x)`` and ``drift_detected``, or ``None``.
    is_error : callable, optional
        ``is_error(predicted, label) -> bool`` for the delayed-label join; default
        ``predicted != label`` (classification). For regression, e.g.
        ``lambda p, y: abs(p - y) > 0.5`` with ``decision=lambda out: out[:, 0]``.
    dp_epsilon : float, optional
        Release the window's histograms with differential privacy before computing
        drift: each recomputation adds Laplace noise to every input and prediction
        histogram (:func:`edgeml.privacy.mechanisms.dp_histogram`), spending
        ``dp_epsilon`` in total per recomputation for any one sample. A sample stays in
        the window for at most ``ceil(window / recompute_every)`` automatic
        recomputations (:attr:`dp_epsilon_bound`); each :meth:`refresh` adds one more.
        Counts, latency and accuracy are not noised (they reveal no input values).
        Noisy counts are clipped at 0, so with a small ``dp_epsilon`` and window a
        released histogram can come out empty; that recomputation is then skipped with
        a warning on the ``edgeml.monitor`` logger (the gauges keep their previous
        values) and requests are served as usual.
    seed : int or numpy.random.Generator, optional
        Makes the DP noise reproducible (tests only); by default it is seeded from the
        operating system.
    clock : callable, optional
        Seconds for label TTLs (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        model: Any,
        *,
        reference: Any = None,
        registry: Any = None,
        name: str | None = None,
        window: int = 1000,
        recompute_every: int | None = None,
        bins: int = 10,
        psi_threshold: float = 0.25,
        features: Callable[[np.ndarray], np.ndarray] | None = None,
        feature_names: Sequence[str] | None = None,
        decision: Callable[[np.ndarray], np.ndarray] | None = None,
        label_ttl: float = 86400.0,
        max_pending: int = 100_000,
        label_window: int = 1000,
        concept_detector: ErrorStreamDetector | str | None = "ddm",
        is_error: Callable[[Any, Any], bool] | None = None,
        dp_epsilon: float | None = None,
        seed: int | np.random.Generator | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not callable(getattr(model, "predict", None)):
            raise invalid_argument(
                "ModelMonitor",
                "model",
                model,
                "an object with a predict(x) method",
                fix='load a .tflite file with edgeml.runtime.load("model.tflite")',
            )
        prom = require("prometheus_client", extra="monitor", feature="ModelMonitor")
        self.model = model
        self.name = self._resolve_name(model, name)
        self.window = _check_positive_int("window", window)
        every = max(1, self.window // 2) if recompute_every is None else recompute_every
        self.recompute_every = _check_positive_int("recompute_every", every)
        self._decision = decision or _default_decision
        if concept_detector == "ddm":
            from edgeml.drift import DDM

            detector: ErrorStreamDetector | None = DDM()
        elif isinstance(concept_detector, str):
            raise invalid_argument(
                "ModelMonitor",
                "concept_detector",
                concept_detector,
                "'ddm', None, or an object with update(x) and drift_detected",
            )
        else:
            detector = concept_detector
        self._detector_name = "none" if detector is None else type(detector).__name__.lower()
        self.join = LabelJoin(
            ttl=label_ttl,
            max_pending=max_pending,
            window=label_window,
            detector=detector,
            is_error=is_error,
            clock=clock,
        )
        self._drift: DriftTracker | None = None
        if reference is not None:
            self._drift = DriftTracker(
                model,
                reference,
                window=self.window,
                bins=bins,
                psi_threshold=psi_threshold,
                features=features,
                feature_names=feature_names,
                decision=self._decision,
                class_count=_class_count if decision is None else None,
                dp_epsilon=dp_epsilon,
                seed=seed,
            )
        elif features is not None or feature_names is not None or dp_epsilon is not None:
            raise ConfigError(
                "features, feature_names and dp_epsilon of ModelMonitor only apply to drift, "
                "which needs reference inputs. Fix: pass reference=... (inputs the model "
                "was validated on)."
            )
        self.registry = prom.REGISTRY if registry is None else registry
        self._lock = threading.Lock()
        self._metrics = metrics_for(self.registry, self.name)
        # The name is freed when this monitor is closed or garbage collected.
        self._release = weakref.finalize(self, release, self.registry, self.name)
        self._series: set[tuple[str, tuple[str, ...]]] = set()
        self._hot = self._metrics.hot.attach(self.name, self._lock)
        self._bind_metrics()
        self._since_recompute = 0
        self._errors = dict.fromkeys(ERROR_KINDS, 0)
        self._label_counts = dict.fromkeys(LABEL_OUTCOMES, 0)
        self._alarms = 0

    @staticmethod
    def _resolve_name(model: Any, name: str | None) -> str:
        if name is None:
            candidate = getattr(model, "name", None)
            name = candidate if isinstance(candidate, str) and candidate else "model"
        if not isinstance(name, str) or not name or len(name) > 128 or not name.isprintable():
            raise invalid_argument(
                "ModelMonitor", "name", name, "a printable model name of 1 to 128 characters"
            )
        return name

    def _child(self, name: str, **labels: str) -> Any:
        """Return the series of metric ``name`` with these labels, remembering it."""
        values = tuple(labels[key] for key in spec(name).labels)
        self._series.add((name, values))
        return self._metrics[name].labels(*values)

    def _bind_metrics(self) -> None:
        label = self.name
        self._child("edgeml_model_info", model=label, edgeml_version=__version__).set(1)
        self._m_errors = {
            k: self._child("edgeml_errors_total", model=label, kind=k) for k in ERROR_KINDS
        }
        self._m_labels = {
            k: self._child("edgeml_labels_total", model=label, outcome=k) for k in LABEL_OUTCOMES
        }
        self._m_pending = self._child("edgeml_pending_predictions", model=label)
        self._m_delay = self._child("edgeml_label_delay_seconds", model=label)
        self._m_state = self._child(
            "edgeml_concept_drift_state", model=label, detector=self._detector_name
        )
        self._m_state.set(0)
        self._m_alarms = self._child(
            "edgeml_concept_drift_alarms_total", model=label, detector=self._detector_name
        )
        self._m_pending.set(0)
        if self._drift is not None:
            self._m_window = self._child("edgeml_drift_window_samples", model=label)
            self._m_window.set(0)

    def __repr__(self) -> str:
        drift = "off" if self._drift is None else f"{len(self._drift.feature_names)} features"
        return (
            f"ModelMonitor(name={self.name!r}, window={self.window}, "
            f"recompute_every={self.recompute_every}, drift={drift})"
        )

    @property
    def dp_epsilon_bound(self) -> float | None:
        """Epsilon any one sample spends on automatic drift releases, or ``None`` without DP.

        Basic composition over the at most ``ceil(window / recompute_every)``
        recomputations a sample's window contains.
        """
        if self._drift is None or self._drift.dp_epsilon is None:
            return None
        return self._drift.dp_epsilon * math.ceil(self.window / self.recompute_every)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the watched input features (empty without a reference)."""
        return () if self._drift is None else self._drift.feature_names

    # ------------------------------------------------------------------ hot path
    def predict(self, x: Any, *, ids: Sequence[Hashable] | None = None) -> Any:
        """Run ``model.predict(x)`` and record it.

        Parameters
        ----------
        x : array_like
            A batch of inputs for the model.
        ids : sequence of hashable, optional
            One id per row; the predicted labels then wait for :meth:`record_label`.

        Returns
        -------
        numpy.ndarray or dict
            The model's outputs, unchanged.

        Raises
        ------
        DataError
            When ``ids`` does not have one id per row; errors of the model itself are
            counted (``invalid_input`` for edgeml data/config errors and ``ValueError``,
            ``inference`` otherwise) and re-raised.
        """
        start = time.perf_counter()
        try:
            outputs = self.model.predict(x)
        except Exception as exc:
            kind = "invalid_input" if isinstance(exc, (ValueError, TypeError)) else "inference"
            self.record_error(kind)
            raise
        latency = time.perf_counter() - start
        self.observe(x, outputs, latency=latency, ids=ids)
        return outputs

    def observe(
        self,
        x: Any,
        outputs: Any,
        *,
        latency: float | None = None,
        ids: Sequence[Hashable] | None = None,
    ) -> None:
        """Record one request whose prediction was made elsewhere.

        Parameters
        ----------
        x : array_like
            The batch of inputs.
        outputs : array_like or dict
            The model's outputs for ``x`` (one row per input row); of several outputs,
            the first is watched.
        latency : float, optional
            Seconds the prediction took (not observed when omitted).
        ids : sequence of hashable, optional
            One id per row, for delayed labels.
        """
        out = _primary_output(outputs)
        n = int(out.shape[0]) if out.ndim else 1
        if ids is not None and len(ids) != n:
            self.record_error("invalid_input")
            raise DataError(
                f"ids has {len(ids)} entries but the batch has {n} rows. "
                "Fix: pass one id per input row."
            )
        try:
            with self._lock:
                if self._drift is not None:
                    self._drift.add(x, out)  # checks x first: nothing counted if it raises
                    self._since_recompute += n
                self._record_success(n, latency)
                if self._since_recompute >= self.recompute_every:
                    self._recompute()
                if ids is not None:
                    self._record_ids(ids, out)
        except DataError:
            self.record_error("invalid_input")
            raise

    def _record_success(self, n: int, latency: float | None) -> None:
        hot = self._hot
        hot.requests += 1
        hot.samples += n
        if latency is not None:
            hot.observe(latency)

    def _record_ids(self, ids: Sequence[Hashable], out: np.ndarray) -> None:
        decided = self._decision(out)
        for request_id, label in zip(ids, decided.tolist(), strict=True):
            self.join.record_prediction(request_id, label)
        self._sync_labels()

    def record_error(self, kind: str) -> None:
        """Count one failed request of ``kind`` (``invalid_input``, ``too_large``, ``inference``).

        Parameters
        ----------
        kind : str
            One of :data:`edgeml.monitor._metrics.ERROR_KINDS`.
        """
        if kind not in self._m_errors:
            raise invalid_argument("record_error", "kind", kind, f"one of {ERROR_KINDS}")
        with self._lock:
            self._hot.requests += 1
            self._errors[kind] += 1
            self._m_errors[kind].inc()

    # ------------------------------------------------------------------ drift
    def _recompute(self) -> None:
        assert self._drift is not None
        self._since_recompute = 0
        try:
            values = self._drift.compute()
        except EdgeMLError as exc:  # e.g. a window of constant values; keep serving
            logger.warning("drift recomputation of %r skipped: %s", self.name, exc)
            return
        label = self.name
        for feature, stats in values.input_drift.items():
            for statistic, value in stats.items():
                self._child(
                    "edgeml_input_drift", model=label, feature=feature, statistic=statistic
                ).set(value)
        for statistic, value in values.prediction_drift.items():
            self._child("edgeml_prediction_drift", model=label, statistic=statistic).set(value)
        self._child("edgeml_input_features_drifted", model=label).set(values.features_drifted)
        self._m_window.set(values.window_samples)
        self._child("edgeml_drift_updated_timestamp_seconds", model=label).set(time.time())

    def refresh(self) -> None:
        """Recompute the drift gauges now, whatever ``recompute_every`` says."""
        if self._drift is None:
            raise ConfigError(
                "This ModelMonitor has no reference, so it computes no drift. "
                "Fix: create it with reference=... (inputs the model was validated on)."
            )
        with self._lock:
            if self._drift.window_samples:
                self._recompute()

    # ------------------------------------------------------------------ labels
    def record_prediction(self, id: Hashable, prediction: Any) -> None:
        """Remember a prediction made outside :meth:`predict` until its label arrives.

        Parameters
        ----------
        id : hashable
            The caller's id (kept in memory only, never exported).
        prediction : Any
            The predicted label.
        """
        with self._lock:
            self.join.record_prediction(id, prediction)
            self._sync_labels()

    def record_label(self, id: Hashable, label: Any) -> JoinResult:
        """Join a delayed ground-truth ``label`` with the prediction made under ``id``.

        Parameters
        ----------
        id : hashable
            The id passed to :meth:`predict` or :meth:`record_prediction`.
        label : Any
            The true label (kept in memory only, never exported).

        Returns
        -------
        JoinResult
            Whether it joined, whether the prediction was wrong, and the delay.
        """
        with self._lock:
            result = self.join.record_label(id, label)
            if result.delay is not None:
                self._m_delay.observe(max(0.0, result.delay))
            self._sync_labels()
        return result

    def expire(self) -> None:
        """Count predictions whose label did not arrive within ``label_ttl``.

        Expiry also happens on every label call; call this before a scrape when labels
        have stopped arriving altogether.
        """
        with self._lock:
            self.join.expire()
            self._sync_labels()

    def _sync_labels(self) -> None:
        join = self.join
        for outcome in LABEL_OUTCOMES:
            total = getattr(join, outcome)
            delta = total - self._label_counts[outcome]
            if delta:
                self._m_labels[outcome].inc(delta)
                self._label_counts[outcome] = total
        if join.alarms != self._alarms:
            self._m_alarms.inc(join.alarms - self._alarms)
            self._alarms = join.alarms
        detector = join.detector
        if detector is not None:
            warning = bool(getattr(detector, "warning_detected", False))
            self._m_state.set(2 if detector.drift_detected else int(warning))
        self._m_pending.set(join.pending)
        accuracy = join.accuracy
        if accuracy is not None:
            self._child("edgeml_accuracy", model=self.name).set(accuracy)
            self._child("edgeml_error_rate", model=self.name).set(1.0 - accuracy)

    def close(self) -> None:
        """Remove this model's series from the registry and free its name for reuse.

        A closed monitor records nothing visible any more; create a new one instead.
        """
        with self._lock:
            for name, values in self._series:
                with contextlib.suppress(KeyError):  # already removed
                    self._metrics[name].remove(*values)
            self._series.clear()
            self._release()

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> MonitorSnapshot:
        """Return what the monitor has recorded so far, as plain values."""
        with self._lock:
            last = None if self._drift is None else self._drift.last
            return MonitorSnapshot(
                model=self.name,
                requests=self._hot.requests,
                samples=self._hot.samples,
                errors=dict(self._errors),
                window_samples=0 if last is None else last.window_samples,
                input_drift={}
                if last is None
                else {k: dict(v) for k, v in last.input_drift.items()},
                prediction_drift={} if last is None else dict(last.prediction_drift),
                features_drifted=0 if last is None else last.features_drifted,
                labels=self.join.stats(),
            )
