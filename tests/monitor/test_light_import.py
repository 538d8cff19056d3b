"""``import edgeml.monitor`` stays light: the web stack and TensorFlow load on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.compat

HEAVY = ["prometheus_client", "fastapi", "uvicorn", "starlette", "tensorflow", "ai_edge_litert"]


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return {name.split(".")[0] for name in json.loads(out.stdout.strip().splitlines()[-1])}


def test_importing_the_package_loads_nothing_heavy() -> None:
    loaded = _loaded_after("import edgeml.monitor; dir(edgeml.monitor)")
    assert loaded.isdisjoint(HEAVY)


def test_rules_and_dashboard_need_no_prometheus_client() -> None:
    loaded = _loaded_after(
        "from edgeml.monitor import alert_rules, grafana_dashboard, LabelJoin\n"
        "alert_rules(); grafana_dashboard(); LabelJoin().stats()"
    )
    assert loaded.isdisjoint(HEAVY)
