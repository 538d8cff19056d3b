"""ModelMonitor around real LiteRT models, read back through a real Prometheus registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeml.errors import ConfigError, DataError
from edgeml.monitor import ModelMonitor

pytest.importorskip("prometheus_client")
import prometheus_client
import prometheus_client.parser

runtime = pytest.importorskip("edgeml.runtime")
drift = pytest.importorskip("edgeml.drift")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry() -> Any:
    return prometheus_client.CollectorRegistry()


@pytest.fixture(scope="module")
def classifier(classifier_path: Path) -> Any:
    return runtime.load(classifier_path, num_threads=1)


def _value(registry: Any, name: str, **labels: str) -> float | None:
    value = registry.get_sample_value(name, {"model": "clf", **labels})
    return None if value is None else float(value)


def test_counters_and_latency_histogram_count_requests_and_samples(
    classifier: Any, registry: Any
) -> None:
    monitor = ModelMonitor(classifier, registry=registry, name="clf")
    rng = np.random.default_rng(0)
    sizes = [1, 5, 17]
    for n in sizes:
        out = monitor.predict(rng.normal(size=(n, 4)).astype(np.float32))
        assert out.shape == (n, 3)
    assert _value(registry, "edgeml_requests_total") == len(sizes)
    assert _value(registry, "edgeml_samples_total") == sum(sizes)
    assert _value(registry, "edgeml_prediction_latency_seconds_count") == len(sizes)
    latency_sum = _value(registry, "edgeml_prediction_latency_seconds_sum")
    assert latency_sum is not None
    assert latency_sum > 0
    info = registry.get_sample_value(
        "edgeml_model_info", {"model": "clf", "edgeml_version": __import__("edgeml").__version__}
    )
    assert info == 1.0


def test_outputs_are_the_models_own(classifier: Any, registry: Any, reference: np.ndarray) -> None:
    monitor = ModelMonitor(classifier, registry=registry, name="clf", reference=reference)
    x = reference[:10]
    np.testing.assert_array_equal(monitor.predict(x), classifier.predict(x))


def test_bad_input_is_counted_and_reraised(classifier: Any, registry: Any) -> None:
    monitor = ModelMonitor(classifier, registry=registry, name="clf")
    with pytest.raises(DataError, match="shape"):
        monitor.predict(np.ones((2, 7), dtype=np.float32))
    assert _value(registry, "edgeml_errors_total", kind="invalid_input") == 1
    assert _value(registry, "edgeml_errors_total", kind="inference") == 0
    assert _value(registry, "edgeml_requests_total") == 1
    assert _value(registry, "edgeml_samples_total") == 0


def test_drift_gauges_equal_edgeml_drift_on_exactly_the_last_window_rows(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    window = 200
    monitor = ModelMonitor(
        classifier,
        registry=registry,
        name="clf",
        reference=reference,
        window=window,
        recompute_every=50,
    )
    rng = np.random.default_rng(1)
    shifted = rng.normal(size=(230, 4)).astype(np.float32)
    shifted[:, 2] += 1.5  # only feature x2 drifts
    for start in range(0, 230, 23):  # 10 requests; the last recompute is at sample 200
        monitor.predict(shifted[start : start + 23])
    # Recomputations happened after samples 69, 138, 207 (>= 50 new each time): the
    # gauges describe the window of the 200 rows before sample 207.
    last_rows = shifted[7:207]
    expected = drift.psi(reference.astype(np.float64), last_rows.astype(np.float64))
    for j, result in enumerate(expected):
        gauge = _value(registry, "edgeml_input_drift", feature=f"x{j}", statistic="psi")
        assert gauge == pytest.approx(result.statistic, rel=1e-12)
    js = drift.js(reference.astype(np.float64), last_rows.astype(np.float64))
    assert _value(registry, "edgeml_input_drift", feature="x2", statistic="js") == pytest.approx(
        js[2].statistic, rel=1e-12
    )
    assert _value(registry, "edgeml_input_drift", feature="x2", statistic="psi") > 0.25
    for j in (0, 1, 3):
        assert _value(registry, "edgeml_input_drift", feature=f"x{j}", statistic="psi") < 0.1
    assert _value(registry, "edgeml_input_features_drifted") == 1
    assert _value(registry, "edgeml_drift_window_samples") == window
    snapshot = monitor.snapshot()
    assert snapshot.input_drift["x2"]["psi"] == pytest.approx(expected[2].statistic)
    assert snapshot.features_drifted == 1


def test_prediction_drift_compares_predicted_class_shares(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    monitor = ModelMonitor(
        classifier, registry=registry, name="clf", reference=reference, window=300
    )
    current = np.random.default_rng(2).normal(size=(300, 4)).astype(np.float32) + 1.0
    monitor.predict(current)
    # Reference: PSI of the class shares, sum (q - p) ln(q / p), computed here with numpy
    # over the classes the model predicts at all (this random-weight model never says 2).
    ref_classes = classifier.predict(reference).argmax(axis=1)
    cur_classes = classifier.predict(current).argmax(axis=1)
    p = np.bincount(ref_classes, minlength=3) / len(ref_classes)
    q = np.bincount(cur_classes, minlength=3) / len(cur_classes)
    seen = (p > 0) | (q > 0)
    assert (p[seen] > 0).all()
    assert (q[seen] > 0).all()
    expected_psi = float(np.sum((q[seen] - p[seen]) * np.log(q[seen] / p[seen])))
    assert expected_psi > 0.25
    gauge = registry.get_sample_value(
        "edgeml_prediction_drift", {"model": "clf", "statistic": "psi"}
    )
    assert gauge == pytest.approx(expected_psi, rel=1e-9)


def test_no_gauges_before_the_first_recompute(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    monitor = ModelMonitor(
        classifier, registry=registry, name="clf", reference=reference, recompute_every=100
    )
    monitor.predict(reference[:99])
    assert _value(registry, "edgeml_input_drift", feature="x0", statistic="psi") is None
    monitor.predict(reference[99:100])
    assert _value(registry, "edgeml_input_drift", feature="x0", statistic="psi") is not None
    assert _value(registry, "edgeml_drift_window_samples") == 100


def test_images_are_watched_by_mean_and_std(image_model_path: Path, registry: Any) -> None:
    model = runtime.load(image_model_path, num_threads=1)
    rng = np.random.default_rng(3)
    reference = rng.uniform(0, 1, size=(200, 16, 16, 3)).astype(np.float32)
    monitor = ModelMonitor(model, registry=registry, name="clf", reference=reference, window=100)
    assert monitor.feature_names == ("mean", "std")
    brighter = np.clip(rng.uniform(0, 1, size=(100, 16, 16, 3)) + 0.3, 0, 1).astype(np.float32)
    monitor.predict(brighter)
    assert _value(registry, "edgeml_input_drift", feature="mean", statistic="psi") > 1.0


def test_delayed_labels_update_accuracy_and_count_missing_labels(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    clock = Clock()
    monitor = ModelMonitor(classifier, registry=registry, name="clf", label_ttl=60.0, clock=clock)
    x = reference[:40]
    ids = [f"req-{i}" for i in range(40)]
    predicted = classifier.predict(x).argmax(axis=1)
    monitor.predict(x, ids=ids)
    assert _value(registry, "edgeml_pending_predictions") == 40
    # Ground truth for the first 30: right for even i, wrong (shifted class) for odd i.
    truth = [int(predicted[i]) if i % 2 == 0 else int((predicted[i] + 1) % 3) for i in range(30)]
    clock.now = 10.0
    for i in range(30):
        monitor.record_label(ids[i], truth[i])
    assert _value(registry, "edgeml_accuracy") == pytest.approx(15 / 30)
    assert _value(registry, "edgeml_error_rate") == pytest.approx(15 / 30)
    assert _value(registry, "edgeml_labels_total", outcome="joined") == 30
    assert _value(registry, "edgeml_label_delay_seconds_count") == 30
    assert _value(registry, "edgeml_label_delay_seconds_sum") == pytest.approx(300.0)
    clock.now = 100.0  # the other 10 never get a label
    monitor.expire()
    assert _value(registry, "edgeml_labels_total", outcome="expired") == 10
    assert _value(registry, "edgeml_pending_predictions") == 0
    assert monitor.record_label(ids[35], 0).outcome == "unknown"
    assert _value(registry, "edgeml_labels_total", outcome="unknown") == 1


def test_ids_must_match_the_batch(classifier: Any, registry: Any, reference: np.ndarray) -> None:
    monitor = ModelMonitor(classifier, registry=registry, name="clf")
    with pytest.raises(DataError, match="one id per input row"):
        monitor.predict(reference[:3], ids=["a", "b"])
    assert _value(registry, "edgeml_errors_total", kind="invalid_input") == 1


def test_concept_drift_detector_alarms_on_a_rising_error_rate(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    monitor = ModelMonitor(classifier, registry=registry, name="clf", label_window=2000)
    predicted = classifier.predict(reference).argmax(axis=1)
    rng = np.random.default_rng(4)
    for step in range(2000):
        i = step % len(reference)
        monitor.record_prediction(step, int(predicted[i]))
        # 5 % errors for 1000 labels, then 50 %: a concept change.
        wrong = rng.random() < (0.05 if step < 1000 else 0.5)
        monitor.record_label(step, int((predicted[i] + 1) % 3) if wrong else int(predicted[i]))
    detector = type(monitor.join.detector).__name__.lower()
    alarms = registry.get_sample_value(
        "edgeml_concept_drift_alarms_total", {"model": "clf", "detector": detector}
    )
    assert alarms is not None
    assert alarms >= 1


def test_only_aggregates_are_exported(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    monitor = ModelMonitor(classifier, registry=registry, name="clf", reference=reference)
    planted = reference[:8].copy()
    planted[0, 0] = 123.456789
    secret_ids = [f"patient-{i:04d}-secret" for i in range(8)]
    monitor.predict(planted, ids=secret_ids)
    monitor.record_label(secret_ids[0], 2)
    monitor.refresh()
    text = prometheus_client.generate_latest(registry).decode()
    assert "123.456" not in text
    assert "patient-" not in text
    assert "secret" not in text
    label_values = {
        value
        for family in prometheus_client.parser.text_string_to_metric_families(text)
        for sample in family.samples
        for key, value in sample.labels.items()
        if key != "le"
    }
    allowed = {"clf", "x0", "x1", "x2", "x3", "psi", "js", "wasserstein", "ddm"}
    allowed |= {"invalid_input", "too_large", "inference"}
    allowed |= {"joined", "expired", "evicted", "unknown"}
    allowed.add(__import__("edgeml").__version__)
    assert label_values <= allowed


def test_monitors_share_a_registry_by_name(classifier: Any, registry: Any) -> None:
    first = ModelMonitor(classifier, registry=registry, name="clf")
    second = ModelMonitor(classifier, registry=registry, name="other")
    first.predict(np.zeros((2, 4), dtype=np.float32))
    second.predict(np.zeros((3, 4), dtype=np.float32))
    assert _value(registry, "edgeml_samples_total") == 2
    assert registry.get_sample_value("edgeml_samples_total", {"model": "other"}) == 3
    with pytest.raises(ConfigError, match="already exports"):
        ModelMonitor(classifier, registry=registry, name="clf")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": 0}, "'window'"),
        ({"recompute_every": -1}, "'recompute_every'"),
        ({"name": ""}, "'name'"),
        ({"feature_names": ["a"]}, "reference"),
        ({"concept_detector": "adwin"}, "'concept_detector'"),
    ],
)
def test_bad_arguments_are_config_errors(
    classifier: Any, registry: Any, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        ModelMonitor(classifier, registry=registry, **kwargs)


def test_reference_problems_are_reported(classifier: Any, registry: Any) -> None:
    with pytest.raises(DataError, match="NaN"):
        ModelMonitor(classifier, registry=registry, reference=np.full((50, 4), np.nan))
    with pytest.raises(ConfigError, match="at least 2 \\* bins"):
        ModelMonitor(classifier, registry=registry, reference=np.zeros((5, 4)))
    with pytest.raises(ConfigError, match="feature_names"):
        ModelMonitor(
            classifier, registry=registry, reference=np.zeros((50, 4)), feature_names=["a", "b"]
        )


def test_not_a_model_is_refused(registry: Any) -> None:
    with pytest.raises(ConfigError, match="predict"):
        ModelMonitor(object(), registry=registry)


def test_snapshot_is_a_json_safe_value(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    monitor = ModelMonitor(
        classifier, registry=registry, name="clf", reference=reference, window=100
    )
    monitor.predict(reference[:100])
    snapshot = monitor.snapshot()
    data = json.loads(json.dumps(snapshot.to_dict()))
    assert data["samples"] == 100
    assert set(data["input_drift"]) == {"x0", "x1", "x2", "x3"}
    assert repr(snapshot).startswith("MonitorSnapshot(model='clf', requests=1, samples=100")
    assert snapshot.to_markdown().splitlines()[0] == "| feature | js | psi | wasserstein |"
    assert "<table>" in snapshot._repr_html_()


def test_dp_release_with_a_huge_epsilon_matches_the_exact_gauges(
    classifier: Any, reference: np.ndarray
) -> None:
    current = np.random.default_rng(5).normal(size=(200, 4)).astype(np.float32) + 0.5
    gauges = {}
    for dp_epsilon in (None, 1e9):
        registry = prometheus_client.CollectorRegistry()
        monitor = ModelMonitor(
            classifier,
            registry=registry,
            name="clf",
            reference=reference,
            window=200,
            dp_epsilon=dp_epsilon,
            seed=0,
        )
        monitor.predict(current)
        gauges[dp_epsilon] = [
            _value(registry, "edgeml_input_drift", feature=f"x{j}", statistic=s)
            for j in range(4)
            for s in ("psi", "js")
        ]
    # Laplace noise of scale 5 / 1e9 rounds away: the released counts are exact.
    assert gauges[1e9] == gauges[None]


def test_dp_noise_has_the_laplace_scale_of_the_split_budget(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    monitor = ModelMonitor(
        classifier,
        registry=registry,
        name="clf",
        reference=reference,
        window=400,
        recompute_every=100,
        dp_epsilon=1.0,
        seed=1,
    )
    # 4 input histograms + 1 prediction histogram share epsilon = 1 per recomputation.
    assert monitor.dp_epsilon_bound == 4.0  # ceil(400 / 100) recomputations per sample
    tracker = monitor._drift
    assert tracker is not None
    sketch = drift.Histogram.fit(
        np.random.default_rng(2).normal(size=(20000, 4)), bins=10
    )  # ~2000 per inner bin: noise never reaches 0, so clipping plays no part
    inner = (slice(None), slice(1, -1))
    noise = np.concatenate(
        [
            (tracker._privatize(sketch, 1.0 / 5).counts - sketch.counts)[inner].ravel()
            for _ in range(60)
        ]
    )
    # Laplace(b) has mean |X| = b; b = sensitivity / epsilon = 1 / (1 / 5) = 5. Rounding
    # to integers changes E|X| by under 0.02 at this scale.
    assert abs(noise.mean()) < 0.3
    assert np.abs(noise).mean() == pytest.approx(5.0, rel=0.05)


def test_dp_noise_that_empties_a_histogram_skips_the_recompute_not_the_request(
    classifier: Any, registry: Any, reference: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    # With a tiny epsilon each noisy count is clipped to 0 about half the time, so some
    # released histogram is often all zeros; the drift statistics refuse an empty sketch
    # (DataError). The monitor must log and keep serving with the previous gauges.
    monitor = ModelMonitor(
        classifier,
        registry=registry,
        name="clf",
        reference=reference,
        window=20,
        recompute_every=20,
        bins=2,
        dp_epsilon=1e-6,
        seed=3,
    )
    rng = np.random.default_rng(4)
    with caplog.at_level("WARNING", logger="edgeml.monitor"):
        for _ in range(30):
            out = monitor.predict(rng.normal(size=(20, 4)).astype(np.float32))
            assert out.shape == (20, 3)
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped, "seeded noise should empty at least one histogram in 30 releases"
    assert "no values" in skipped[0].getMessage()
    assert len(skipped) < 30  # the other recomputations still set the gauges
    assert _value(registry, "edgeml_input_drift", feature="x0", statistic="psi") is not None
    assert _value(registry, "edgeml_requests_total") == 30
    assert _value(registry, "edgeml_errors_total", kind="invalid_input") == 0


def test_dp_needs_a_reference(classifier: Any, registry: Any) -> None:
    with pytest.raises(ConfigError, match="dp_epsilon"):
        ModelMonitor(classifier, registry=registry, dp_epsilon=1.0)
    with pytest.raises(ConfigError, match="'dp_epsilon'"):
        ModelMonitor(classifier, registry=registry, reference=np.zeros((50, 4)), dp_epsilon=-1.0)
    with pytest.raises(ConfigError, match="'seed' argument of ModelMonitor"):
        ModelMonitor(
            classifier, registry=registry, reference=np.zeros((50, 4)), dp_epsilon=1.0, seed="7"
        )


def test_close_removes_the_series_and_frees_the_name(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    monitor = ModelMonitor(classifier, registry=registry, name="clf", reference=reference)
    monitor.predict(reference[:300], ids=list(range(300)))
    monitor.record_label(0, 1)
    other = ModelMonitor(classifier, registry=registry, name="other")
    other.predict(reference[:2])
    monitor.close()
    text = prometheus_client.generate_latest(registry).decode()
    assert 'model="clf"' not in text
    assert 'edgeml_samples_total{model="other"} 2.0' in text
    again = ModelMonitor(classifier, registry=registry, name="clf")
    again.predict(reference[:1])
    assert _value(registry, "edgeml_samples_total") == 1


def test_a_collected_monitor_frees_its_name(classifier: Any, registry: Any) -> None:
    import gc

    ModelMonitor(classifier, registry=registry, name="clf")
    gc.collect()
    assert ModelMonitor(classifier, registry=registry, name="clf").name == "clf"


def test_observe_refuses_inputs_unlike_the_reference(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    monitor = ModelMonitor(classifier, registry=registry, name="clf", reference=reference)
    outputs = classifier.predict(reference[:2])
    with pytest.raises(DataError, match="values per sample"):
        monitor.observe(np.zeros((2, 5)), outputs)
    assert _value(registry, "edgeml_samples_total") == 0
    assert _value(registry, "edgeml_errors_total", kind="invalid_input") == 1
    monitor.observe(reference[:2], outputs, latency=0.001)
    assert _value(registry, "edgeml_samples_total") == 2


class _ScriptedDetector:
    """Plays back a fixed sequence of (warning, drift) states, one per update."""

    def __init__(self, states: list[tuple[bool, bool]]) -> None:
        self.states = iter(states)
        self.warning_detected = False
        self.drift_detected = False

    def update(self, x: float) -> _ScriptedDetector:
        self.warning_detected, self.drift_detected = next(self.states)
        return self


def test_detector_state_gauge_follows_the_detector(classifier: Any, registry: Any) -> None:
    detector = _ScriptedDetector([(False, False), (True, False), (False, True), (False, False)])
    monitor = ModelMonitor(classifier, registry=registry, name="clf", concept_detector=detector)
    seen = []
    for i in range(4):
        monitor.record_prediction(i, 0)
        monitor.record_label(i, 1)
        seen.append(
            registry.get_sample_value(
                "edgeml_concept_drift_state", {"model": "clf", "detector": "_scripteddetector"}
            )
        )
    assert seen == [0.0, 1.0, 2.0, 0.0]
    alarms = registry.get_sample_value(
        "edgeml_concept_drift_alarms_total", {"model": "clf", "detector": "_scripteddetector"}
    )
    assert alarms == 1.0


def test_latency_histogram_matches_prometheus_clients_own(classifier: Any, registry: Any) -> None:
    from edgeml.monitor._metrics import LATENCY_BUCKETS

    monitor = ModelMonitor(classifier, registry=registry, name="clf")
    reference_registry = prometheus_client.CollectorRegistry()
    reference_histogram = prometheus_client.Histogram(
        "edgeml_prediction_latency_seconds",
        "reference",
        ["model"],
        registry=reference_registry,
        buckets=LATENCY_BUCKETS,
    ).labels(model="clf")
    # Bucket bounds themselves (le is inclusive), values between them, beyond the last.
    latencies = [*LATENCY_BUCKETS, 3e-6, 7e-5, 0.3, 42.0, 0.0]
    x = np.zeros((1, 4), dtype=np.float32)
    outputs = classifier.predict(x)
    for latency in latencies:
        monitor.observe(x, outputs, latency=latency)
        reference_histogram.observe(latency)

    def samples(reg: Any) -> dict[tuple[str, str], float]:
        return {
            (s.name, s.labels.get("le", "")): s.value
            for family in reg.collect()
            if family.name == "edgeml_prediction_latency_seconds"
            for s in family.samples
            if not s.name.endswith("_created")
        }

    assert samples(registry) == samples(reference_registry)
    assert len(samples(registry)) == len(LATENCY_BUCKETS) + 1 + 2  # buckets, +Inf, count, sum


def test_concurrent_predictions_labels_and_scrapes_lose_no_counts(
    classifier: Any, registry: Any, reference: np.ndarray
) -> None:
    import threading

    monitor = ModelMonitor(
        classifier, registry=registry, name="clf", reference=reference, window=100
    )
    errors: list[BaseException] = []

    def predict_and_label(worker: int) -> None:
        try:
            for i in range(150):
                ids = [f"{worker}-{i}-{k}" for k in range(3)]
                monitor.predict(reference[i : i + 3], ids=ids)
                monitor.record_label(ids[0], 0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def scrape() -> None:
        for _ in range(50):
            prometheus_client.generate_latest(registry)

    threads = [threading.Thread(target=predict_and_label, args=(w,)) for w in range(4)]
    threads.append(threading.Thread(target=scrape))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _value(registry, "edgeml_requests_total") == 4 * 150
    assert _value(registry, "edgeml_samples_total") == 4 * 150 * 3
    assert _value(registry, "edgeml_prediction_latency_seconds_count") == 4 * 150
    assert _value(registry, "edgeml_labels_total", outcome="joined") == 4 * 150
    assert _value(registry, "edgeml_pending_predictions") == 4 * 150 * 2
