"""Drift metrics carry the input columns' names: from the caller, a DataFrame, or the card.

The model is the real LiteRT classifier of ``conftest.py`` (4 inputs); only the third
column is shifted, so the gauge that rises must be the one labelled with that column's
name: a label attached to the wrong column fails these tests.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeml.errors import ConfigError, DataError

pytest.importorskip("prometheus_client")
runtime = pytest.importorskip("edgeml.runtime")

import prometheus_client  # noqa: E402
import prometheus_client.parser  # noqa: E402

from edgeml.card import ModelCard, embed_card  # noqa: E402
from edgeml.drift import Histogram  # noqa: E402
from edgeml.monitor import ModelMonitor  # noqa: E402

NAMES = ("heart_rate", "age", "spo2", "temperature")
SHIFTED = 2


def _traffic(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    calm = rng.normal(size=(200, 4)).astype(np.float32)
    shifted = rng.normal(size=(200, 4)).astype(np.float32)
    shifted[:, SHIFTED] += 2.0
    return calm, shifted


def _psi_by_feature(text: str, model: str = "clf") -> dict[str, float]:
    values = {}
    for family in prometheus_client.parser.text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "edgeml_input_drift"
                and labels.get("model") == model
                and labels.get("statistic") == "psi"
            ):
                values[labels["feature"]] = float(sample.value)
    return values


def _check_labels(psi: dict[str, float], names: tuple[str, ...]) -> None:
    assert set(psi) == set(names)
    assert psi[names[SHIFTED]] > 0.25
    assert all(psi[name] < 0.25 for j, name in enumerate(names) if j != SHIFTED)


@pytest.fixture(scope="module")
def classifier(classifier_path: Path) -> Any:
    return runtime.load(classifier_path, num_threads=1)


def test_a_dataframe_reference_names_the_features(classifier: Any, reference: np.ndarray) -> None:
    pd = pytest.importorskip("pandas")
    registry = prometheus_client.CollectorRegistry()
    frame = pd.DataFrame(reference, columns=list(NAMES))
    monitor = ModelMonitor(classifier, reference=frame, registry=registry, name="clf", window=200)
    assert monitor.feature_names == NAMES
    _, shifted = _traffic()
    monitor.predict(pd.DataFrame(shifted, columns=list(NAMES)))
    monitor.refresh()
    _check_labels(_psi_by_feature(prometheus_client.generate_latest(registry).decode()), NAMES)
    # A frame with the columns in another order would put one column's drift under
    # another's name: refused, and counted as an invalid input.
    swapped = pd.DataFrame(shifted, columns=list(NAMES)).iloc[:, ::-1]
    with pytest.raises(DataError, match="differ from the reference's"):
        monitor.predict(swapped)
    assert monitor.snapshot().errors["invalid_input"] == 1
    monitor.predict(swapped[list(monitor.feature_names)])  # the fix the message gives


def test_the_cards_drift_baseline_names_the_features(
    classifier_path: Path, reference: np.ndarray
) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from edgeml.monitor import create_app

    baseline = Histogram.fit(dict(zip(NAMES, reference.T, strict=True)))
    card = ModelCard.build("clf", drift_baseline=baseline)
    model = runtime.load(embed_card(classifier_path.read_bytes(), card), num_threads=1)
    client = TestClient(create_app(model, reference=reference, name="clf", window=200))
    _, shifted = _traffic()
    assert client.post("/predict", json={"inputs": shifted.tolist()}).status_code == 200
    client.app.state.monitor.refresh()  # type: ignore[attr-defined]
    _check_labels(_psi_by_feature(client.get("/metrics").text), NAMES)

    # Names given by the caller win over the card's.
    mine = ("a", "b", "c", "d")
    other = create_app(model, reference=reference, name="clf", feature_names=list(mine))
    assert other.state.monitor.feature_names == mine


def test_unnamed_or_mismatched_baselines_keep_the_default_names(
    classifier_path: Path, reference: np.ndarray
) -> None:
    for baseline in (Histogram.fit(reference), Histogram.fit(reference[:, :3])):
        card = ModelCard.build("clf", drift_baseline=baseline)
        model = runtime.load(embed_card(classifier_path.read_bytes(), card), num_threads=1)
        monitor = ModelMonitor(
            model, reference=reference, registry=prometheus_client.CollectorRegistry()
        )
        assert monitor.feature_names == ("x0", "x1", "x2", "x3")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("heart_rate,age,spo2,temperature", "a sequence of names"),
        (["a", "b"], "4 distinct names"),
        (["a", "a", "b", "c"], "4 distinct names"),
        (["a", "b", "c", "line\nbreak"], "printable"),
        (["a", "b", "c", "x" * 129], "printable"),
        (["a", "b", "c", 3], "printable"),
    ],
)
def test_bad_feature_names_are_refused_naming_the_argument(
    classifier: Any, reference: np.ndarray, names: Any, expected: str
) -> None:
    with pytest.raises(ConfigError, match=f"'feature_names'.*{expected}"):
        ModelMonitor(
            classifier,
            reference=reference,
            registry=prometheus_client.CollectorRegistry(),
            feature_names=names,
        )


# ---------------------------------------------------------------------------- the real server
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, classifier_path: Path, reference: np.ndarray) -> Iterator[str]:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    np.save(tmp_path / "reference.npy", reference)
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "edgeml", "serve", str(classifier_path),
            "--reference", str(tmp_path / "reference.npy"),
            "--feature-names", ",".join(NAMES),
            "--port", str(port), "--name", "clf",
            "--window", "200", "--recompute-every", "200", "--log-level", "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"edgeml serve exited: {(tmp_path / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{url}/healthz").is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("edgeml serve did not answer /healthz within 90 s")
            time.sleep(0.2)  # polling interval, not an assertion
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()


@pytest.mark.slow
def test_edgeml_serve_feature_names_label_the_metrics(served: str) -> None:
    import httpx

    _, shifted = _traffic()
    response = httpx.post(f"{served}/predict", json={"inputs": shifted.tolist()}, timeout=30)
    assert response.status_code == 200, response.text
    metrics = httpx.get(f"{served}/metrics", timeout=30).text
    _check_labels(_psi_by_feature(metrics), NAMES)
    assert 'feature="x2"' not in metrics


def test_edgeml_serve_refuses_a_wrong_number_of_names(
    tmp_path: Path,
    classifier_path: Path,
    reference: np.ndarray,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    from edgeml.cli import main

    np.save(tmp_path / "reference.npy", reference)
    args = ["serve", str(classifier_path), "--reference", str(tmp_path / "reference.npy")]
    assert main([*args, "--feature-names", "heart_rate,age"]) == 1
    err = capsys.readouterr().err
    assert "feature_names" in err
    assert "4 distinct names" in err
