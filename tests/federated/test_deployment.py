"""Flower's real deployment engine on loopback: one SuperLink, two SuperNodes, `flwr run`.

Every process is started by this test and stopped by its id (descendants first: the
SuperLink and SuperNodes start SuperExec/ServerApp/ClientApp processes of their own).
Insecure mode on 127.0.0.1 with free ports; TLS is described in docs/federated.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")

pytestmark = [pytest.mark.slow, pytest.mark.tf]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _descendants(pid):
    """Every process below ``pid`` (read from /proc, children before grandchildren)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def _stop(processes):
    """SIGTERM descendants (deepest first) and then each started process; SIGKILL leftovers."""
    pids = []
    for proc in processes:
        pids.extend(reversed(_descendants(proc.pid)))
    pids.extend(proc.pid for proc in reversed(processes))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for proc in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait_healthy(port, proc, deadline):
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"process {proc.args[0]} exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"port {port} never became healthy")


def _flwr(env, *args, timeout=120):
    return subprocess.run(
        [str(BIN / "flwr"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


APP = """
import numpy as np
import keras

from edgeml.federated import ClientLevelDP, client_app, server_app


def model_fn():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])


def data_fn(context):
    rng = np.random.default_rng(int(context.node_config["partition-id"]))
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


client = client_app(
    model_fn, data_fn,
    compile={{"optimizer": "sgd",
              "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}},
    fit={{"epochs": 1, "batch_size": 16}},
)
server = server_app(
    model_fn,
    dp=ClientLevelDP(num_clients=2, sampling_rate=1.0, rounds=2, noise_multiplier=1.0),
    fraction_evaluate=0.0,  # each message starts a ClientApp process: keep them few
    output={output!r},
    timeout=120,
)
"""

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "edgemlfed"
version = "1.0.0"
description = "edgeml federated integration test"
license = "Apache-2.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "edgeml"

[tool.flwr.app.components]
serverapp = "edgemlfed_app:server"
clientapp = "edgemlfed_app:client"

[tool.flwr.app.config]
"""


def test_superlink_two_supernodes_two_rounds(tmp_path):
    if shutil.which("flower-superlink", path=str(BIN)) is None:
        pytest.skip("Flower's CLIs are not in the venv")
    # Flower 1.42 serves the Fleet, Control and Runtime APIs on one HTTP port.
    link_http, node_a, node_b = _free_ports(3)
    home = tmp_path / "flwr-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "local"\n\n[superlink.local]\n'
        f'address = "127.0.0.1:{link_http}"\ninsecure = true\n'
    )
    app = tmp_path / "app"
    app.mkdir()
    output = tmp_path / "result"
    (app / "pyproject.toml").write_text(PYPROJECT)
    (app / "edgemlfed_app.py").write_text(textwrap.dedent(APP.format(output=str(output))))
    env = {
        **os.environ,
        "FLWR_HOME": str(home),
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = []

    def start(name, *args):
        log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [str(BIN / args[0]), *args[1:]],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        processes.append(proc)
        return proc

    try:
        link = start(
            "superlink",
            "flower-superlink",
            "--insecure",
            "--isolation",
            "subprocess",
            "--disable-runtime-dependency-installation",
            "--host",
            "127.0.0.1",
            "--port",
            str(link_http),
            "--database",
            str(tmp_path / "state.db"),
        )
        deadline = time.monotonic() + 90
        _wait_healthy(link_http, link, deadline)
        nodes = [
            start(
                f"supernode{i}",
                "flower-supernode",
                "--insecure",
                "--superlink",
                f"127.0.0.1:{link_http}",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--node-config",
                f"partition-id={i} num-partitions=2",
            )
            for i, port in enumerate([node_a, node_b])
        ]
        for node, port in zip(nodes, [node_a, node_b], strict=True):
            _wait_healthy(port, node, deadline)
        while True:
            listing = _flwr(env, "supernode", "list", "local", "--format", "json")
            online = listing.stdout.count('"online"')
            if online >= 2:
                break
            assert time.monotonic() < deadline, listing.stdout + listing.stderr
            time.sleep(1)

        submitted = _flwr(env, "run", str(app), "local", "--format", "json")
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        run_id = json.loads(submitted.stdout)["run-id"]
        deadline = time.monotonic() + 420
        status = ""
        while time.monotonic() < deadline:
            listed = _flwr(env, "list", "local", "--run-id", str(run_id), "--format", "json")
            runs = json.loads(listed.stdout).get("runs", []) if listed.stdout else []
            status = runs[0]["status"] if runs else ""
            if status.startswith("finished"):
                break
            time.sleep(2)
        # `flwr run` exits 0 even when the ServerApp fails: the run's status tells.
        if status != "finished:completed":
            shown = _flwr(env, "log", str(run_id), "local", "--show")
            pytest.fail(f"run {run_id} ended as {status!r}; its log:\n{shown.stdout[-6000:]}")
        result = json.loads((output / "result.json").read_text())
        assert [r["round"] for r in result["rounds"]] == [1, 2]
        diagnostics = json.loads((output / "internal" / "diagnostics.json").read_text())
        assert [r["used"] for r in diagnostics["rounds"]] == [2, 2]
        assert result["guarantee"]["unit"].startswith("client-level")
        assert (output / "weights.npz").exists()
    finally:
        _stop(processes)
    assert all(proc.poll() is not None for proc in processes)
