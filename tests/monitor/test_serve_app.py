"""The FastAPI app over a real LiteRT model, through FastAPI's TestClient (httpx)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeml.errors import ConfigError

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("prometheus_client")
runtime = pytest.importorskip("edgeml.runtime")

import prometheus_client  # noqa: E402
import prometheus_client.parser  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from edgeml.monitor import ModelMonitor, create_app  # noqa: E402


@pytest.fixture(scope="module")
def classifier(classifier_path: Path) -> Any:
    return runtime.load(classifier_path, num_threads=1)


@pytest.fixture
def client(classifier: Any, reference: np.ndarray) -> TestClient:
    app = create_app(
        classifier,
        reference=reference,
        name="clf",
        window=50,
        recompute_every=10,
        max_body_bytes=64 * 1024,
        max_batch=100,
    )
    return TestClient(app, raise_server_exceptions=False)


def _metric(client: TestClient, name: str, **labels: str) -> float | None:
    text = client.get("/metrics").text
    for family in prometheus_client.parser.text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == {"model": "clf", **labels}:
                return float(sample.value)
    return None


def test_json_predict_returns_the_models_outputs(client: TestClient, classifier: Any) -> None:
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    response = client.post("/predict", json={"inputs": x.tolist()})
    assert response.status_code == 200
    np.testing.assert_allclose(response.json()["outputs"], classifier.predict(x), rtol=1e-6)
    assert _metric(client, "edgeml_requests_total") == 1
    assert _metric(client, "edgeml_samples_total") == 5


def test_npy_body_and_a_single_unbatched_sample(client: TestClient, classifier: Any) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    buffer = io.BytesIO()
    np.save(buffer, x)
    response = client.post(
        "/predict", content=buffer.getvalue(), headers={"Content-Type": "application/x-npy"}
    )
    assert response.status_code == 200
    np.testing.assert_allclose(response.json()["outputs"], classifier.predict(x), rtol=1e-6)
    single = client.post("/predict", json=[0.1, 0.2, 0.3, 0.4])
    assert single.status_code == 200
    assert np.asarray(single.json()["outputs"]).shape == (1, 3)


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "invalid JSON"),
        (json.dumps({"inputs": [[1, 2, 3]]}).encode(), {}, 422, "expects (batch, 4)"),
        (json.dumps({"inputs": [[1, 2, "x", 4]]}).encode(), {}, 422, "numbers only"),
        (json.dumps({"inputs": [[1, 2], [3]]}).encode(), {}, 422, "rectangular"),
        (b'{"inputs": [[1, 2, NaN, 4]]}', {}, 422, "NaN, infinite"),
        (b'{"inputs": [[1, 2, 1e300, 4]]}', {}, 422, "too large"),
        (json.dumps({"inputs": []}).encode(), {}, 422, "empty"),
        (json.dumps({"x": [[1, 2, 3, 4]]}).encode(), {}, 422, '{"inputs"'),
        (json.dumps({"inputs": [[0] * 4] * 101}).encode(), {}, 413, "at most 100"),
        (json.dumps({"inputs": [[0] * 4], "ids": [1, 2]}).encode(), {}, 422, "one id per"),
        (b"\x93NUMPY garbage", {"Content-Type": "application/x-npy"}, 400, "not a valid .npy"),
        (b"a,b", {"Content-Type": "text/csv"}, 415, "application/x-npy"),
    ],
)
def test_bad_requests_get_4xx_with_a_clear_message(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    response = client.post("/predict", content=body, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error
    assert "Traceback" not in response.text


def test_body_size_limit_is_enforced_before_parsing(client: TestClient) -> None:
    big = json.dumps({"inputs": [[0.5] * 4] * 5000}).encode()
    assert len(big) > 64 * 1024
    response = client.post("/predict", content=big)
    assert response.status_code == 413
    assert "at most 65536" in response.json()["error"]
    assert _metric(client, "edgeml_errors_total", kind="too_large") == 1


def test_errors_are_counted_by_kind(client: TestClient) -> None:
    client.post("/predict", json={"inputs": [[1, 2, 3]]})
    client.post("/predict", json={"inputs": [[1, 2, 3, 4]]})
    assert _metric(client, "edgeml_requests_total") == 2
    assert _metric(client, "edgeml_errors_total", kind="invalid_input") == 1
    assert _metric(client, "edgeml_samples_total") == 1


def _npy(shape: tuple[int, ...], fill: float, dtype: str) -> bytes:
    with np.errstate(all="ignore"):  # casting inf/NaN to integers is the point here
        array = np.full(shape, fill).astype(dtype)
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


_npy_bodies = st.builds(
    lambda dtype, shape, fill: _npy(shape, fill, dtype),
    st.sampled_from(["float32", "float64", "int8", "uint16", "complex64", "bool", "U3"]),
    st.lists(st.integers(0, 5), max_size=3).map(tuple),
    st.sampled_from([0, 1.5, -3, float("nan"), float("inf"), 1e300]),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/predict", "/labels"]),
    body=st.one_of(
        st.binary(max_size=300),
        _npy_bodies,
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
            lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    content_type=st.sampled_from(["application/json", "application/x-npy", "text/plain", ""]),
)
def test_no_request_body_causes_a_server_error(
    client: TestClient, path: str, body: bytes, content_type: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert set(response.json()) == {"error"}


def test_other_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "model": "clf"}
    card = client.get("/card").json()
    assert card["model"] == "clf"
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert "No such endpoint" in missing.json()["error"]
    assert client.get("/predict").status_code == 405
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "process_resident_memory_bytes" in metrics.text


def test_labels_endpoint_joins_ids_and_updates_accuracy(
    client: TestClient, classifier: Any, reference: np.ndarray
) -> None:
    x = reference[:6]
    ids = [f"r{i}" for i in range(6)]
    assert client.post("/predict", json={"inputs": x.tolist(), "ids": ids}).status_code == 200
    predicted = classifier.predict(x).argmax(axis=1).tolist()
    truth = predicted[:4] + [(p + 1) % 3 for p in predicted[4:]]  # 4 right, 2 wrong
    response = client.post("/labels", json={"ids": [*ids, "unseen"], "labels": [*truth, 0]})
    assert response.json() == {"joined": 6, "unknown": 1}
    assert _metric(client, "edgeml_accuracy") == pytest.approx(4 / 6)
    bad = client.post("/labels", json={"ids": ["a"], "labels": [[1]]})
    assert bad.status_code == 422


def test_metrics_never_show_inputs_ids_or_labels(client: TestClient, reference: np.ndarray) -> None:
    planted = reference[:20].copy()
    planted[3, 1] = 987.654321
    ids = [f"alice-{i}@example.org" for i in range(20)]
    client.post("/predict", json={"inputs": planted.tolist(), "ids": ids})
    client.post("/labels", json={"ids": ids[:5], "labels": ["label-secret-xyz"] * 5})
    text = client.get("/metrics").text
    for secret in ("987.65", "alice", "example.org", "label-secret"):
        assert secret not in text
    assert _metric(client, "edgeml_input_drift", feature="x1", statistic="psi") is not None


def test_app_from_a_path_and_from_a_monitor(classifier_path: Path, classifier: Any) -> None:
    client = TestClient(create_app(str(classifier_path), name="clf"))
    assert client.post("/predict", json=[[0, 0, 0, 0]]).status_code == 200
    monitor = ModelMonitor(classifier, registry=prometheus_client.CollectorRegistry(), name="m2")
    app = create_app(classifier, monitor=monitor)
    assert TestClient(app).get("/healthz").json()["model"] == "m2"
    with pytest.raises(ConfigError, match="'monitor' argument"):
        create_app(classifier, monitor=monitor, name="x")
    with pytest.raises(ConfigError, match="'max_batch'"):
        create_app(classifier, max_batch=0)


def test_every_public_name_of_the_layer_resolves() -> None:
    import edgeml.monitor as monitor

    for name in monitor.__all__:
        assert getattr(monitor, name) is not None
    assert sorted(dir(monitor)) == sorted(set(dir(monitor)) | set(monitor.__all__))
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = monitor.no_such_name  # type: ignore[attr-defined]
