"""Import cost of edgeml and its light layers, beside TensorFlow for scale.

Each import runs in a fresh interpreter (so nothing is cached in ``sys.modules``) several
times; the script prints JSON with the median seconds, and whether TensorFlow was loaded.

    python benchmarks/import_time.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

MODULES = [
    "edgeml",
    "edgeml.data",
    "edgeml.drift",
    "edgeml.privacy.accounting",
    "edgeml.runtime",
    "edgeml.card",
]
BASELINE = "tensorflow"

PROBE = """
import sys, time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
print(elapsed, int("tensorflow" in sys.modules))
"""


def time_import(module: str, repeats: int) -> dict[str, object]:
    seconds, loaded_tf = [], False
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed, tf_flag = out.stdout.split()
        seconds.append(float(elapsed))
        loaded_tf = loaded_tf or tf_flag == "1"
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "loads_tf": loaded_tf}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = {m: time_import(m, args.repeats) for m in MODULES}
    baseline = time_import(BASELINE, max(1, args.repeats // 2))
    report = {
        "benchmark": "import_time",
        "python": sys.version.split()[0],
        "repeats": args.repeats,
        "edgeml": results,
        "baseline": {BASELINE: baseline},
        "ratio_tensorflow_over_edgeml": baseline["median_s"] / results["edgeml"]["median_s"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
