"""Child process of test_fuzz.py: load (and run) each fuzzed model, report each outcome.

Reads a pickled list of byte strings from the file named by argv[1], the index to
start from in argv[2] and the interpreter backend in argv[3]. Before each case it prints
``start <i>`` and after it ``done <i> <outcome>``, flushing, so the parent can tell
which case killed the process if one ever does.
"""

from __future__ import annotations

import pickle
import sys

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


def main() -> None:
    with open(sys.argv[1], "rb") as handle:
        cases = pickle.load(handle)
    backend = sys.argv[3]
    for i in range(int(sys.argv[2]), len(cases)):
        print(f"start {i}", flush=True)
        print(f"done {i} {outcome(cases[i], backend)}", flush=True)


if __name__ == "__main__":
    main()
