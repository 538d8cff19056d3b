"""Fuzz the ``edgeml`` command: generated arguments and file contents give exit code
0-3 and at most one ``edgeml: error:`` line, never a traceback. ``inspect`` on generated
model bytes runs in a child process, where an interpreter crash cannot take the test
runner with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeml.cli import main

FUZZ = settings.get_profile("fuzz")
FUZZ_SUBPROCESS = settings.get_profile("fuzz-subprocess")

# Argument words for in-process runs. "demo" is left out (it trains a network), and so
# are "inspect" and "bench", which hand file bytes to the interpreter: they run in a
# child process below. "serve" only ever sees files that are no model, so it stops
# before starting a server.
words = st.sampled_from(
    [
        "drift",
        "serve",
        "--json",
        "--card",
        "--output",
        "--numeric",
        "psi,ks",
        "nope",
        "--alpha",
        "-1",
        "nan",
        "--format",
        "json",
        "--port",
        "99999",
        "--verbose",
        "--version",
        "{table}",
        "{table}",
        "{folder}",
        "{missing}",
        "--fail-on-drift",
        "--nan-policy",
        "omit",
        "--drift-share",
        "2",
    ]
)
table_contents = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(
        st.lists(
            st.sampled_from(["1", "2.5", "", "x", "nan", "1e999", '"a,b"']), min_size=1, max_size=4
        ),
        min_size=1,
        max_size=6,
    ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode()),
)


def _one_outcome(code: Any, stderr: str) -> None:
    assert code in (0, 1, 2, 3), code
    assert "Traceback" not in stderr, stderr
    if code == 1:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1, stderr
        assert lines[0].startswith("edgeml: error: ")


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code: Any = main(argv)
    except SystemExit as exit_:  # argparse: --help, --version handled, or usage errors
        code = exit_.code
        assert code in (0, 2)
        capsys.readouterr()
        return
    _one_outcome(code, capsys.readouterr().err)


@FUZZ
@given(
    st.lists(words, max_size=7), table_contents, st.sampled_from([".csv", ".npy", ".npz", ".txt"])
)
def test_generated_command_lines(
    tmp_path_factory: Any,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    content: bytes,
    suffix: str,
) -> None:
    folder: Path = tmp_path_factory.mktemp("cli")
    table = folder / f"table{suffix}"
    table.write_bytes(content)
    substitutions = {"{table}": str(table), "{folder}": str(folder), "{missing}": str(folder / "m")}
    _run([substitutions.get(word, word) for word in argv], capsys)


@FUZZ
@given(
    st.sampled_from(["float64", "int32", "bool", "U3", "object", "complex128", "V4"]),
    st.lists(st.integers(0, 5), min_size=1, max_size=3).map(tuple),
    st.booleans(),
)
def test_drift_on_generated_arrays(
    tmp_path_factory: Any, capsys: pytest.CaptureFixture[str], dtype: str, shape: Any, as_npz: bool
) -> None:
    folder: Path = tmp_path_factory.mktemp("npy")
    array = (
        np.zeros(shape, dtype=dtype) if dtype != "object" else np.full(shape, None, dtype=object)
    )
    path = folder / ("a.npz" if as_npz else "a.npy")
    if as_npz:
        np.savez(path, a=array)
    else:
        np.save(path, array, allow_pickle=True)
    good = folder / "good.npy"
    np.save(good, np.random.default_rng(0).normal(size=(30, 2)))
    _run(["drift", str(path), str(good)], capsys)
    _run(["drift", str(good), str(path), "--output", str(folder / "no" / "r.md")], capsys)


@FUZZ_SUBPROCESS
@given(st.binary(min_size=0, max_size=400))
def test_inspect_on_generated_bytes_in_a_child_process(
    tmp_path_factory: Any, content: bytes
) -> None:
    model = tmp_path_factory.mktemp("model") / "m.tflite"
    model.write_bytes(content)
    child = subprocess.run(
        [sys.executable, "-m", "edgeml", "inspect", str(model)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode >= 0, f"crashed with signal {-child.returncode}"
    _one_outcome(child.returncode, child.stderr)


def test_inspect_on_a_corrupted_real_model_in_a_child_process(tmp_path: Path) -> None:
    from edgeml.conversion.metadata import _tiny_model_for_examples

    content = bytearray(_tiny_model_for_examples())
    rng = np.random.default_rng(0)
    for position in rng.integers(0, len(content), size=5):
        content[int(position)] ^= 0xFF
    model = tmp_path / "m.tflite"
    model.write_bytes(bytes(content))
    child = subprocess.run(
        [sys.executable, "-m", "edgeml", "inspect", "--json", str(model)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode >= 0, f"crashed with signal {-child.returncode}"
    _one_outcome(child.returncode, child.stderr)
