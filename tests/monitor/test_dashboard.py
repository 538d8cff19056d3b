"""The Grafana dashboard only queries metrics a real ModelMonitor exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgeml.errors import ConfigError
from edgeml.monitor import grafana_dashboard
from edgeml.monitor._metrics import exported_names

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

# A metric name in PromQL: an identifier not followed by "(" (a function) and not a label
# name inside "{...}" / "by (...)". Our exprs name every metric with the edgeml_ prefix,
# and the check below also catches any other bare identifier that is not PromQL syntax.
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _metric_names(expr: str) -> set[str]:
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    text = re.sub(r"\[[^\]]*\]", "", text)  # range durations
    names = set()
    for match in _IDENTIFIER.finditer(text):
        rest = text[match.end() :].lstrip()
        word = match.group()
        if rest.startswith("(") or word in _PROMQL_WORDS:
            continue
        names.add(word)
    return names


def _all_exprs(board: dict[str, object]) -> list[str]:
    panels = board["panels"]
    assert isinstance(panels, list)
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_metric_name_extraction_on_known_expressions() -> None:
    expr = 'sum by (model, le) (rate(foo_bucket{model=~"a|b"}[5m])) / on (model) bar_total'
    assert _metric_names(expr) == {"foo_bucket", "bar_total"}


def test_every_expression_names_a_metric_a_live_monitor_exports(tmp_path: Path) -> None:
    from edgeml.monitor import ModelMonitor

    class Softmax3:
        def predict(self, x: np.ndarray) -> np.ndarray:
            logits = np.asarray(x, dtype=np.float64)[:, :3]
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

    registry = prometheus_client.CollectorRegistry()
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(400, 4))
    monitor = ModelMonitor(
        Softmax3(), reference=reference, registry=registry, window=100, recompute_every=50
    )
    # Exercise every code path so that every labelled series exists.
    monitor.predict(reference[:120], ids=[f"r{i}" for i in range(120)])
    for i in range(60):
        monitor.record_label(f"r{i}", i % 3)
    monitor.record_label("never-predicted", 0)
    monitor.record_error("invalid_input")
    scraped = prometheus_client.generate_latest(registry).decode()
    live = {
        sample.name
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }

    board = grafana_dashboard(tmp_path / "dashboard.json")
    assert json.loads((tmp_path / "dashboard.json").read_text()) == board
    exprs = _all_exprs(board)
    assert len(exprs) >= 12
    used = set().union(*(_metric_names(e) for e in exprs))
    # The model variable is filled from edgeml_model_info.
    used.add(board["templating"]["list"][0]["definition"].split("(")[1].split(",")[0])
    assert used <= live, sorted(used - live)
    assert used <= exported_names()
    assert "edgeml_input_drift" in used
    assert "edgeml_accuracy" in used


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not installed (Debian package 'prometheus'; .ci/prometheus.sh installs it)",
)
def test_every_expression_is_valid_promql(tmp_path: Path) -> None:
    # promtool has no offline expression checker, but it fully parses recording rules.
    exprs = _all_exprs(grafana_dashboard())
    lines = ["groups:", '  - name: "dashboard"', "    rules:"]
    for i, expr in enumerate(exprs):
        concrete = expr.replace("$__rate_interval", "5m").replace("$model", ".*")
        lines += [f'      - record: "dashboard:expr{i}"', f"        expr: {json.dumps(concrete)}"]
    (tmp_path / "rules.yml").write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        ["promtool", "check", "rules", str(tmp_path / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_statistic_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="drift_statistic"):
        grafana_dashboard(drift_statistic="kl")
