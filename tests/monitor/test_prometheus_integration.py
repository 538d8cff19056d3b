"""A real Prometheus scraping a real ``edgeml serve``, both on loopback.

Needs Debian's ``prometheus`` package (``.ci/prometheus.sh`` installs it in CI); skipped
with that reason when the binary is missing. Nothing leaves the machine: both servers
bind 127.0.0.1 on free ports, Prometheus keeps its data in a temporary folder.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeml.monitor import prometheus_config

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

PROMETHEUS = shutil.which("prometheus")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="the 'prometheus' binary is not installed (Debian package 'prometheus'; "
        ".ci/prometheus.sh installs it)",
    ),
]

TIMEOUT = 90.0  # seconds any single wait may take before the test fails


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(what: str, check: Callable[[], Any], process: subprocess.Popen[bytes]) -> Any:
    """Poll ``check`` until it returns a truthy value; fail on timeout or process exit."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what}: the process exited with code {process.returncode}")
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.2)  # polling interval, not an assertion
    pytest.fail(f"timed out after {TIMEOUT:.0f} s waiting for {what}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.fixture
def served_model(
    tmp_path: Path, classifier_path: Path, reference: np.ndarray
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    np.savez(tmp_path / "reference.npz", x=reference)
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "edgeml", "serve", str(classifier_path),
            "--reference", str(tmp_path / "reference.npz"),
            "--host", "127.0.0.1", "--port", str(port), "--name", "clf",
            "--window", "200", "--recompute-every", "50", "--log-level", "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for("edgeml serve /healthz", lambda: httpx.get(f"{url}/healthz").is_success, process)
        yield url, process
    finally:
        _stop(process)
        log.close()


@pytest.fixture
def prometheus(tmp_path: Path, served_model: tuple[str, subprocess.Popen[bytes]]) -> Iterator[str]:
    assert PROMETHEUS is not None
    target = served_model[0].removeprefix("http://")
    config = prometheus_config([target], tmp_path / "prometheus.yml", scrape_interval="1s")
    assert "scrape_interval" in config
    port = _free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for("Prometheus /-/ready", lambda: httpx.get(f"{url}/-/ready").is_success, process)
        yield url
    finally:
        _stop(process)
        log.close()


def _query(prometheus_url: str, promql: str) -> float | None:
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": promql}, timeout=10)
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_sees_requests_and_the_drift_rise(
    served_model: tuple[str, subprocess.Popen[bytes]], prometheus: str
) -> None:
    app_url, app_process = served_model
    rng = np.random.default_rng(7)
    sent = 0
    for _ in range(10):  # in-distribution traffic: 200 rows, fills the drift window
        batch = rng.normal(size=(20, 4)).round(4)
        response = httpx.post(f"{app_url}/predict", json={"inputs": batch.tolist()}, timeout=30)
        assert response.status_code == 200, response.text
        sent += 1

    def scraped(count: int) -> Callable[[], float | None]:
        def check() -> float | None:
            value = _query(prometheus, 'edgeml_requests_total{model="clf",job="edgeml"}')
            return value if value == count else None

        return check

    _wait_for(f"Prometheus to scrape {sent} requests", scraped(sent), app_process)
    psi = 'max(edgeml_input_drift{model="clf",statistic="psi"})'
    baseline = _query(prometheus, psi)
    assert baseline is not None
    assert baseline < 0.25

    for _ in range(5):  # a drifted batch: every feature shifted by 3 standard deviations
        batch = (rng.normal(size=(40, 4)) + 3.0).round(4)
        response = httpx.post(f"{app_url}/predict", json={"inputs": batch.tolist()}, timeout=30)
        assert response.status_code == 200, response.text
        sent += 1

    _wait_for(f"Prometheus to scrape {sent} requests", scraped(sent), app_process)
    risen = _wait_for(
        "the drift gauge to rise in Prometheus",
        lambda: (value := _query(prometheus, psi)) is not None and value > 1.0 and value,
        app_process,
    )
    assert risen > baseline
    samples = _query(prometheus, 'edgeml_samples_total{model="clf"}')
    assert samples == 10 * 20 + 5 * 40
    assert _query(prometheus, 'up{job="edgeml"}') == 1.0
    errors = _query(prometheus, 'sum(edgeml_errors_total{model="clf"})')
    assert errors == 0.0
