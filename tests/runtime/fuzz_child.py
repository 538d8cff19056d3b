"""Child process of test_fuzz.py: load (and run) each fuzzed model, report each outcome.

Reads a pickled list of byte strings from the file named by argv[1], the index to
start from in argv[2] and the interpreter backend in argv[3]. Before each case it prints
``start <i>`` and after it ``done <i> <outcome>``, flushing, so the parent can tell
which case killed the process if one ever does. :func:`run_in_children` is that parent
side, shared by ``test_fuzz.py`` and ``tests/fuzz/test_fuzz_modelfile.py``.
"""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from edgeml.errors import EdgeMLError
from edgeml.runtime import load


def outcome(content: bytes, backend: str) -> str:
    try:
        model = load(content, num_threads=1, backend=backend)  # type: ignore[arg-type]
        x = {
            spec.name: np.zeros(
                [2 if i == 0 and d is None else (d or 1) for i, d in enumerate(spec.shape)],
                dtype=np.float32,
            )
            for spec in model.inputs
        }
        model.predict(next(iter(x.values())) if len(x) == 1 else x)
        return "ran"
    except EdgeMLError as exc:
        return type(exc).__name__
    except Exception as exc:
        return f"unexpected-{type(exc).__name__}:{str(exc)[:80]!r}"


def run_in_children(
    cases: list[bytes], folder: Path, backend: str
) -> tuple[dict[int, str], dict[int, str]]:
    """Run every case in child processes of this script.

    Returns the outcome of each case that finished and, for each case that killed its
    child, the signal's name (or the exit code); the next child starts after that case.
    """
    case_file = folder / f"cases-{backend}.pkl"
    case_file.write_bytes(pickle.dumps(cases))
    outcomes: dict[int, str] = {}
    crashes: dict[int, str] = {}
    start = 0
    while start < len(cases):
        child = subprocess.run(
            [sys.executable, __file__, str(case_file), str(start), backend],
            capture_output=True,
            text=True,
            timeout=600,
        )
        current = None
        for line in child.stdout.splitlines():
            word, index, *rest = line.split(" ", 2)
            if word == "start":
                current = int(index)
            elif word == "done":
                outcomes[int(index)] = rest[0]
                current = None
        if child.returncode == 0:
            break
        assert current is not None, child.stderr[-2000:]
        code = child.returncode
        crashes[current] = signal.Signals(-code).name if code < 0 else f"exit {code}"
        start = current + 1
    return outcomes, crashes


def main() -> None:
    with open(sys.argv[1], "rb") as handle:
        cases = pickle.load(handle)
    backend = sys.argv[3]
    for i in range(int(sys.argv[2]), len(cases)):
        print(f"start {i}", flush=True)
        print(f"done {i} {outcome(cases[i], backend)}", flush=True)


if __name__ == "__main__":
    main()
