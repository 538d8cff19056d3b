"""``edgeml drift`` subcommand (run through its own parser, as edgeml.cli does)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from edgeml.drift import compare
from edgeml.drift._cli import DRIFT_EXIT_CODE, add_parser, read_table
from edgeml.errors import DataError

pytestmark = pytest.mark.compat


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="edgeml")
    add_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def write_csv(path: Path, columns: dict[str, list[object]]) -> Path:
    names = list(columns)
    rows = zip(*columns.values(), strict=True)
    path.write_text(",".join(names) + "\n" + "\n".join(",".join(map(str, r)) for r in rows))
    return path


def test_csv_report_matches_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gen = np.random.default_rng(0)
    ref = {"x": gen.normal(size=400).tolist(), "c": gen.choice(["a", "b"], 400).tolist()}
    cur = {"x": gen.normal(1.0, size=400).tolist(), "c": gen.choice(["a", "b"], 400).tolist()}
    ref_path, cur_path = write_csv(tmp_path / "r.csv", ref), write_csv(tmp_path / "c.csv", cur)
    assert run(["drift", str(ref_path), str(cur_path), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = compare(read_table(ref_path), read_table(cur_path)).to_dict()
    assert printed == json.loads(json.dumps(expected))
    assert printed["drifted_features"] == ["x"]
    out = tmp_path / "report.md"
    code = run(["drift", str(ref_path), str(cur_path), "--output", str(out), "--fail-on-drift"])
    assert code == DRIFT_EXIT_CODE  # one of two features drifted: share 0.5 >= 0.5
    assert out.read_text().startswith("drift: 1 of 2 features drifted")


def test_html_report_is_the_saved_page(tmp_path: Path) -> None:
    gen = np.random.default_rng(2)
    ref = {"heart_rate": gen.normal(70, 8, 400).tolist()}
    cur = {"heart_rate": gen.normal(80, 8, 400).tolist()}
    ref_path, cur_path = write_csv(tmp_path / "r.csv", ref), write_csv(tmp_path / "c.csv", cur)
    out = tmp_path / "report.html"
    args = ["drift", str(ref_path), str(cur_path), "--format", "html", "--output", str(out)]
    assert run(args) == 0
    saved = compare(read_table(ref_path), read_table(cur_path)).save_html(tmp_path / "api.html")
    assert out.read_text(encoding="utf-8") == saved.read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8").count("<svg") == 2  # severity + distribution


def test_npy_and_errors(tmp_path: Path) -> None:
    gen = np.random.default_rng(1)
    np.save(tmp_path / "r.npy", gen.normal(size=(300, 3)))
    np.save(tmp_path / "c.npy", gen.normal(size=(300, 3)))
    assert (
        run(
            [
                "drift",
                str(tmp_path / "r.npy"),
                str(tmp_path / "c.npy"),
                "--numeric",
                "ks,psi",
                "--fail-on-drift",
            ]
        )
        == 0
    )
    (tmp_path / "t.txt").write_text("x")
    with pytest.raises(DataError, match=r"use a \.csv, \.npy or \.npz"):
        read_table(tmp_path / "t.txt")
    with pytest.raises(DataError, match="Cannot read"):
        read_table(tmp_path / "missing.npy")
    np.savez(tmp_path / "two.npz", a=np.zeros(2), b=np.zeros(2))
    with pytest.raises(DataError, match="2 arrays"):
        read_table(tmp_path / "two.npz")
