"""Drift benchmark: edgeml's vectorized compare vs a per-column scipy/numpy loop.

Runs, in one process and on the same data:

1. KS + PSI + Wasserstein on every column of a rows x features float64 table (default
   1,000,000 x 50): ``edgeml.drift.compare(numeric=("ks", "psi", "wasserstein"))`` vs a
   plain loop of ``scipy.stats.ks_2samp`` / ``scipy.stats.wasserstein_distance`` / numpy
   PSI per column. Seconds and peak memory (tracemalloc, in a second run) for both.
2. KS alone on a ``rows x ks-features`` table (default 1,000,000 x 20) in two tables:
   no drift (current drawn from the reference distribution) and small drift (every
   column shifted by 0.005 standard deviations, so p-values spread from about 1e-4 to
   0.5: the case where scipy's ``kstwo.sf`` is slowest). ``edgeml.drift.ks`` against a
   loop of ``scipy.stats.ks_2samp``: seconds, ratio, and agreement (statistics must be
   identical; p-values within the stated relative tolerance 1e-9). The goal is
   under 1 s for 1,000,000 x 20 whatever the shift.
3. ``Histogram.update`` rows per second (whole table at once, and 1,000-row batches).
4. ``update_many`` items per second of ADWIN, PageHinkley, DDM and HDDM_A on a 1,000,000-long
   Bernoulli error stream whose rate moves from 0.1 to 0.3 at index 500,000, with the
   detection delay and false alarms; and river's detectors on the same stream, one
   ``update`` per value, when river is importable (it is not a dependency).

Prints one JSON document. ``--rows`` shrinks the table on a busy machine.

Usage: python benchmarks/drift.py [--rows 1000000] [--features 50] [--ks-features 20]
       [--stream 1000000] [--no-baseline] [--only ks]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

import edgeml
from edgeml.drift import (
    ADWIN,
    DDM,
    HDDM_A,
    Histogram,
    PageHinkley,
    compare,
    evaluate_detector,
    ks,
)
from edgeml.drift._kolmogorov import RTOL


def make_table(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Reference ~ N(0, 1); current: most columns unchanged, every fifth one shifted."""
    rng = np.random.default_rng(seed)
    reference = rng.standard_normal((rows, features))
    current = rng.standard_normal((rows, features))
    current[:, ::5] += 0.1
    return reference, current


def numpy_psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    edges = np.quantile(reference, np.linspace(0, 1, bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.histogram(reference, edges)[0] / reference.size
    q = np.histogram(current, edges)[0] / current.size
    p, q = np.clip(p, 1e-4, None), np.clip(q, 1e-4, None)
    return float(np.sum((q - p) * np.log(q / p)))


def baseline(reference: np.ndarray, current: np.ndarray) -> list[tuple[float, float, float, float]]:
    out = []
    for j in range(reference.shape[1]):
        a, b = reference[:, j], current[:, j]
        ks = stats.ks_2samp(a, b)
        out.append(
            (
                float(ks.statistic),
                float(ks.pvalue),
                numpy_psi(a, b),
                stats.wasserstein_distance(a, b),
            )
        )
    return out


def ours(reference: np.ndarray, current: np.ndarray) -> Any:
    return compare(reference, current, numeric=("ks", "psi", "wasserstein"), correction=None)


CPU_SECONDS: dict[int, float] = {}


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds (and, in CPU_SECONDS[id(func)], process CPU seconds) of one call."""
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    value = func()
    CPU_SECONDS[id(func)] = time.process_time() - cpu
    return time.perf_counter() - start, value


def peak_bytes(func: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return int(peak)


def table_benchmark(rows: int, features: int, with_baseline: bool) -> dict[str, Any]:
    reference, current = make_table(rows, features)
    input_bytes = reference.nbytes + current.nbytes
    run_ours = lambda: ours(reference, current)  # noqa: E731
    ours_seconds, report = timed(run_ours)
    first_cpu = CPU_SECONDS[id(run_ours)]
    repeats = [timed(run_ours)[0] for _ in range(2)]
    repeat_cpu = CPU_SECONDS[id(run_ours)]
    result: dict[str, Any] = {
        "rows": rows,
        "features": features,
        "input_bytes": input_bytes,
        "ours": {
            "what": 'compare(numeric=("ks", "psi", "wasserstein")), KS p-values included',
            "seconds": round(ours_seconds, 3),
            "cpu_seconds": round(first_cpu, 3),
            "seconds_best_of_3": round(min([ours_seconds, *repeats]), 3),
            "cpu_seconds_last_run": round(repeat_cpu, 3),
            "peak_bytes": peak_bytes(lambda: ours(reference, current)),
        },
    }
    result["ours"]["peak_over_input"] = round(result["ours"]["peak_bytes"] / input_bytes, 3)
    if with_baseline:
        run_baseline = lambda: baseline(reference, current)  # noqa: E731
        base_seconds, expected = timed(run_baseline)
        result["baseline"] = {
            "what": "per-column loop: scipy ks_2samp + wasserstein_distance + numpy PSI",
            "seconds": round(base_seconds, 3),
            "cpu_seconds": round(CPU_SECONDS[id(run_baseline)], 3),
            "peak_bytes": peak_bytes(lambda: baseline(reference, current)),
        }
        result["speedup"] = round(base_seconds / ours_seconds, 2)
        result["speedup_cpu"] = round(result["baseline"]["cpu_seconds"] / max(first_cpu, 1e-9), 2)
        pairs = list(zip(report.features, expected, strict=True))
        result["agreement"] = {
            "ks_statistic_max_abs_diff": max(abs(f.result.statistic - e[0]) for f, e in pairs),
            "ks_pvalue_max_rel_diff": max(
                abs(f.result.pvalue - e[1]) / max(e[1], 1e-300) for f, e in pairs
            ),
            "wasserstein_max_rel_diff": max(
                abs(f.others[1].details["distance"] - e[3]) / e[3] for f, e in pairs
            ),
        }
    result["drifted_features"] = len(report.drifted_features)
    return result


KS_SHIFTS = {"no_drift": 0.0, "small_drift": 0.005}


def ks_benchmark(rows: int, features: int, with_baseline: bool) -> dict[str, Any]:
    """``ks`` alone, no drift and small drift, against a loop of ``scipy.stats.ks_2samp``."""
    rng = np.random.default_rng(2)
    reference = rng.standard_normal((rows, features))
    fresh = rng.standard_normal((rows, features))
    ks(reference[:1000], fresh[:1000])  # warm-up: scipy.stats import
    out: dict[str, Any] = {"rows": rows, "features": features, "rtol_stated": RTOL}
    for name, shift in KS_SHIFTS.items():
        current = fresh + shift
        load = os.getloadavg()[0]
        runs, cpu = [], []
        for _ in range(3):
            run = lambda c=current: ks(reference, c)  # noqa: E731
            runs.append(timed(run))
            cpu.append(CPU_SECONDS[id(run)])
        seconds = [run[0] for run in runs]
        results = runs[0][1]
        pvalues = [r.pvalue for r in results]
        table: dict[str, Any] = {
            "shift_in_std": shift,
            "ours_seconds_best_of_3": round(min(seconds), 3),
            "ours_seconds": [round(t, 3) for t in seconds],
            "ours_cpu_seconds": [round(t, 3) for t in cpu],
            "load_average_before": round(load, 2),  # 2 cores shared: above 2, wall time lies
            "pvalue_range": [float(f"{min(pvalues):.3g}"), float(f"{max(pvalues):.3g}")],
            "goal_under_1s": min(seconds) < 1.0,
        }
        if with_baseline:
            base_seconds, expected = timed(
                lambda c=current: [
                    stats.ks_2samp(reference[:, j], c[:, j]) for j in range(features)
                ]
            )
            pairs = list(zip(results, expected, strict=True))
            table["baseline"] = "loop of scipy.stats.ks_2samp (auto: asymptotic here)"
            table["baseline_seconds"] = round(base_seconds, 3)
            table["speedup"] = round(base_seconds / min(seconds), 2)
            table["statistics_identical"] = all(r.statistic == e.statistic for r, e in pairs)
            table["pvalue_max_rel_diff"] = max(
                abs(r.pvalue - e.pvalue) / max(e.pvalue, 1e-300) for r, e in pairs
            )
        out[name] = table
    return out


def histogram_benchmark(rows: int, features: int) -> dict[str, Any]:
    reference, current = make_table(rows, features, seed=1)
    sketch = Histogram.fit(reference)
    whole, _ = timed(lambda: sketch.empty().update(current))
    batch_rows = 1000
    batches = [current[i : i + batch_rows] for i in range(0, min(rows, 200_000), batch_rows)]
    device = sketch.empty()

    def run_batches() -> None:
        for batch in batches:
            device.update(batch)

    in_batches, _ = timed(run_batches)
    return {
        "features": features,
        "bins": sketch.bins,
        "rows_per_second_whole_table": round(rows / whole),
        "rows_per_second_1000_row_batches": round(batch_rows * len(batches) / in_batches),
        "bytes_per_sketch": len(sketch.to_bytes()),
    }


def detector_benchmark(length: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    change = length // 2
    stream = np.r_[rng.random(change) < 0.1, rng.random(length - change) < 0.3].astype(float)
    out: dict[str, Any] = {"length": length, "change_point": change}
    for detector in (ADWIN(), PageHinkley(), DDM(), HDDM_A()):
        seconds, _ = timed(lambda d=detector: d.clone().update_many(stream))
        evaluation = evaluate_detector(detector, stream, [change])
        out[type(detector).__name__] = {
            "items_per_second": round(length / seconds),
            "delay": evaluation.delays[0],
            "false_alarms": evaluation.false_alarms,
            "detections": len(evaluation.detections),
            "first_detections": list(evaluation.detections[:5]),
        }
    river = river_benchmark(length)
    if river is not None:
        out["river_one_by_one"] = river
    return out


def river_benchmark(length: int) -> dict[str, Any] | None:
    """The same stream through river's detectors one value at a time, if river imports."""
    try:
        import river
        from river import drift as river_drift
    except ImportError:
        return None
    rng = np.random.default_rng(0)
    change = length // 2
    stream = np.r_[rng.random(change) < 0.1, rng.random(length - change) < 0.3]
    values = stream.astype(float).tolist()
    bits = stream.astype(int).tolist()
    out: dict[str, Any] = {"version": river.__version__}
    makers = {
        "ADWIN": (river_drift.ADWIN, values),
        "PageHinkley": (river_drift.PageHinkley, values),
        "DDM": (river_drift.binary.DDM, bits),
        "HDDM_A": (river_drift.binary.HDDMA, bits),
    }
    for name, (make, data) in makers.items():
        detector = make()
        found: list[int] = []
        start = time.perf_counter()
        for i, x in enumerate(data):
            detector.update(x)
            if detector.drift_detected:
                found.append(i)
        seconds = time.perf_counter() - start
        out[name] = {"items_per_second": round(length / seconds), "detections": found[:5]}
    return out


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {
        "edgeml": edgeml.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: pool.get(k) for k in ("internal_api", "architecture", "num_threads")}
            for pool in threadpool_info()
        ]
    except ImportError:
        pass
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--ks-features", type=int, default=20)
    parser.add_argument("--stream", type=int, default=1_000_000)
    parser.add_argument("--no-baseline", action="store_true", help="skip the scipy loops")
    parser.add_argument("--only", choices=["table", "ks", "histogram", "detectors"])
    args = parser.parse_args()
    baseline_too = not args.no_baseline
    parts: dict[str, Callable[[], Any]] = {
        "table": lambda: table_benchmark(args.rows, args.features, baseline_too),
        "ks": lambda: ks_benchmark(args.rows, args.ks_features, baseline_too),
        "histogram_update": lambda: histogram_benchmark(args.rows, args.features),
        "detectors": lambda: detector_benchmark(args.stream),
    }
    chosen = {"histogram": "histogram_update"}.get(args.only or "", args.only)
    result = {name: run() for name, run in parts.items() if chosen in (None, name)}
    result["environment"] = environment()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
