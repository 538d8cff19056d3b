"""Benchmark edgeml.data.synthesize (MST) against independent marginals and smartnoise-synth.

For each data set and epsilon it reports, as JSON: the mean and worst 2-way total
variation distance (TVD) between the real and the synthetic table, train-on-synthetic /
test-on-real (TSTR) accuracy of a naive Bayes classifier of the target column (beside
train-on-real and the majority class), wall time and peak traced memory. The baseline
is the independent-marginals synthesizer at the same epsilon (all of rho spent on noisy
1-way marginals, projected to the simplex, columns sampled independently). If a Python
with smartnoise-synth is given (``--smartnoise /tmp/snsynth/bin/python``; it pulls torch
and JAX, so it lives in its own virtual environment), its MST runs on the same encoded
table at the same (epsilon, delta), hence the same rho, in a subprocess (its time
includes its fit and sample, not its imports; its memory is the subprocess' peak RSS).

Data sets: a generated table (``--rows``, default 100,000) of 10 mixed columns with
planted dependencies, and scikit-learn's bundled breast cancer, wine and digits tables,
binned with declared, round-number edges covering each feature's documented range.

Usage: python benchmarks/synthesize.py [--rows 100000] [--epsilons 1 3 10]
       [--datasets planted breast_cancer wine digits] [--smartnoise PYTHON] [--out f.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any

import numpy as np

from edgeml.data import Policy, bins, synthesize
from edgeml.data.synthesis import mst, synthesis_domain, zcdp_rho
from edgeml.data.synthesis.domain import encode
from edgeml.data.synthesis.estimation import estimate
from edgeml.data.synthesis.quality import measure_quality

DELTA = 1e-6


def planted(rows: int, seed: int = 0) -> tuple[dict[str, Any], Policy, dict[str, list[Any]], str]:
    """10 mixed columns; planted tree: education - occupation - income - high_income,
    age - income, age - married - kids; hours, region and sex independent."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, rows).astype(float)
    edu = rng.choice(["school", "college", "degree", "phd"], rows, p=[0.4, 0.3, 0.2, 0.1])
    by_edu = {
        "school": [0.6, 0.3, 0.1, 0.0],
        "college": [0.3, 0.4, 0.2, 0.1],
        "degree": [0.1, 0.3, 0.4, 0.2],
        "phd": [0.0, 0.1, 0.3, 0.6],
    }
    jobs = np.array(["manual", "clerical", "professional", "research"])
    occupation = np.empty(rows, dtype=object)
    for level, p in by_edu.items():
        mask = edu == level
        occupation[mask] = rng.choice(jobs, int(mask.sum()), p=p)
    base = {"manual": 30.0, "clerical": 40.0, "professional": 60.0, "research": 70.0}
    income = np.array([base[o] for o in occupation]) + rng.normal(0, 10, rows) + (age - 18) * 0.3
    married = np.where(rng.random(rows) < np.clip((age - 18) / 50, 0.05, 0.9), "yes", "no")
    kids = np.where(married == "yes", rng.poisson(1.5, rows), rng.poisson(0.2, rows)).clip(0, 4)
    table = {
        "age": age,
        "education": edu,
        "occupation": occupation,
        "income": np.clip(income, 0, 199),
        "hours": np.clip(rng.normal(40, 8, rows), 0, 99),
        "region": rng.choice(["north", "south", "east", "west"], rows),
        "married": married,
        "kids": kids,
        "sex": rng.choice(["F", "M"], rows),
        "high_income": np.where(income + rng.normal(0, 5, rows) > 55, "yes", "no"),
        "email": np.array([f"user{i}@example.com" for i in range(rows)]),  # never declared
    }
    policy = Policy(
        keep={
            "age": bins([18, 30, 45, 65, 90]),
            "education": None,
            "occupation": None,
            "income": bins([0, 20, 40, 60, 80, 100, 200]),
            "hours": bins([0, 20, 35, 45, 60, 100]),
            "region": None,
            "married": None,
            "kids": None,
            "sex": None,
            "high_income": None,
        }
    )
    domains = {
        "education": ["school", "college", "degree", "phd"],
        "occupation": list(jobs),
        "region": ["north", "south", "east", "west"],
        "married": ["no", "yes"],
        "kids": [0, 1, 2, 3, 4],
        "sex": ["F", "M"],
        "high_income": ["no", "yes"],
    }
    return table, policy, domains, "high_income"


# Round-number edges spanning each feature's range as documented in the data set's DESCR.
BREAST_CANCER = {
    "mean radius": [6, 10, 13, 16, 20, 30],
    "mean texture": [9, 15, 20, 25, 40],
    "mean perimeter": [40, 75, 100, 125, 190],
    "mean area": [100, 500, 1000, 1500, 2600],
    "mean smoothness": [0.05, 0.08, 0.1, 0.12, 0.17],
    "mean compactness": [0, 0.05, 0.1, 0.2, 0.35],
    "mean concavity": [0, 0.02, 0.08, 0.2, 0.43],
    "mean concave points": [0, 0.02, 0.05, 0.1, 0.21],
    "mean symmetry": [0.1, 0.15, 0.2, 0.25, 0.31],
}
WINE = {
    "alcohol": [11, 12, 13, 14, 15],
    "malic_acid": [0.5, 1.5, 2.5, 4, 6],
    "ash": [1.3, 2, 2.5, 3.3],
    "alcalinity_of_ash": [10, 15, 20, 25, 30],
    "magnesium": [70, 90, 110, 130, 165],
    "total_phenols": [0.9, 1.5, 2.5, 3.9],
    "flavanoids": [0.3, 1, 2, 3, 5.1],
    "color_intensity": [1, 3, 5, 8, 13],
    "hue": [0.4, 0.8, 1.1, 1.75],
    "proline": [250, 500, 800, 1200, 1700],
}
DIGIT_PIXELS = [10, 13, 19, 20, 21, 26, 28, 33, 36, 42, 43, 53]  # 0-16 ink levels


def sklearn_table(name: str) -> tuple[dict[str, Any], Policy, dict[str, list[Any]], str]:
    """A bundled scikit-learn table, binned with declared edges; the class is the target."""
    from sklearn import datasets

    if name == "digits":
        data = datasets.load_digits()
        edges = {f"pixel_{i}": [0, 4, 8, 12, 16] for i in DIGIT_PIXELS}
        columns = {f"pixel_{i}": data.data[:, i] for i in DIGIT_PIXELS}
    else:
        data = datasets.load_breast_cancer() if name == "breast_cancer" else datasets.load_wine()
        edges = BREAST_CANCER if name == "breast_cancer" else WINE
        index = {n: i for i, n in enumerate(data.feature_names)}
        columns = {n: data.data[:, index[n]] for n in edges}
    classes = [str(c) for c in data.target_names]
    table = {**columns, "target": np.array(classes, dtype=object)[data.target]}
    policy = Policy(keep={**{n: bins(e) for n, e in edges.items()}, "target": None})
    return table, policy, {"target": classes}, "target"


def independent_baseline(
    codes: np.ndarray, sizes: list[int], rho: float, rng: np.random.Generator
) -> np.ndarray:
    """All of rho on noisy 1-way marginals; columns sampled independently."""
    d = codes.shape[1]
    sigma = math.sqrt(d / (2 * rho))
    one_way = mst.measure(codes, sizes, [(i,) for i in range(d)], sigma, rng)
    model = estimate(sizes, [], one_way)
    return model.sample(max(1, round(model.total)), rng)


SMARTNOISE_SCRIPT = r"""
import json, resource, sys, time, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
from snsynth import Synthesizer
path, out = sys.argv[1], sys.argv[5]
epsilon, delta, seed = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
np.random.seed(seed)
codes = np.load(path)["codes"]
frame = pd.DataFrame(codes, columns=[f"c{i}" for i in range(codes.shape[1])])
start = time.perf_counter()
synth = Synthesizer.create("mst", epsilon=epsilon, delta=delta, verbose=False)
synth.fit(frame, preprocessor_eps=0.0, categorical_columns=list(frame.columns))
sample = synth.sample(len(frame))
seconds = time.perf_counter() - start
np.savez(out, codes=sample.to_numpy().astype(np.int32))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak}))
"""


def run_smartnoise(
    python: str, codes: np.ndarray, epsilon: float, seed: int, timeout: float
) -> tuple[dict[str, Any], np.ndarray | None]:
    with tempfile.TemporaryDirectory() as tmp:
        data, out = os.path.join(tmp, "codes.npz"), os.path.join(tmp, "out.npz")
        np.savez(data, codes=codes)
        try:
            done = subprocess.run(
                [python, "-c", SMARTNOISE_SCRIPT, data, str(epsilon), str(DELTA), str(seed), out],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"skipped": f"no result within the {timeout:g} s cap"}, None
        if done.returncode != 0:
            return {"skipped": "failed: " + done.stderr.strip().splitlines()[-1][:300]}, None
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        return stats, np.load(out)["codes"]


def quality_row(real: np.ndarray, synthetic: np.ndarray, names: Any, sizes: Any, target: str):
    q = measure_quality(real, synthetic, names, sizes, target=target, expected_noise_tvd=0.0)
    return q, {
        "tvd_1way_mean": round(float(np.mean(list(q.tvd_one_way.values()))), 4),
        "tvd_2way_mean": round(q.tvd_two_way_mean, 4),
        "tvd_2way_max": round(q.tvd_two_way_max, 4),
        "tstr_accuracy": round(q.tstr_accuracy or 0.0, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    parser.add_argument(
        "--datasets", nargs="+", default=["planted", "breast_cancer", "wine", "digits"]
    )
    parser.add_argument("--smartnoise", default=None, help="a python with smartnoise-synth")
    parser.add_argument("--smartnoise-timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    results = []
    for name in args.datasets:
        table, policy, domains, target = (
            planted(args.rows, args.seed) if name == "planted" else sklearn_table(name)
        )
        domain = synthesis_domain(policy, domains=domains)
        columns = {
            c.name: c.before(table[c.name]) if c.before is not None else np.asarray(table[c.name])
            for c in domain.columns
        }
        real = encode(domain, columns)
        names, sizes = list(domain.names), list(domain.sizes)
        for epsilon in args.epsilons:
            rho = zcdp_rho(epsilon, DELTA)
            row: dict[str, Any] = {
                "dataset": name,
                "rows": len(real),
                "columns": len(names),
                "epsilon": epsilon,
                "delta": DELTA,
                "rho": round(rho, 6),
            }
            tracemalloc.start()
            start = time.perf_counter()
            _, report = synthesize(
                table, policy, epsilon=epsilon, delta=DELTA, domains=domains, seed=args.seed,
                target=target,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            q = report.quality
            assert q is not None
            row["trtr_accuracy"] = round(q.trtr_accuracy or 0.0, 4)
            row["majority_accuracy"] = round(q.majority_accuracy or 0.0, 4)
            row["edgeml_mst"] = {
                "tvd_1way_mean": round(float(np.mean(list(q.tvd_one_way.values()))), 4),
                "tvd_2way_mean": round(q.tvd_two_way_mean, 4),
                "tvd_2way_max": round(q.tvd_two_way_max, 4),
                "tstr_accuracy": round(q.tstr_accuracy or 0.0, 4),
                "seconds": round(seconds, 2),
                "peak_traced_mb": round(peak, 1),
                "tree": [list(e) for e in report.tree],
            }
            rng = np.random.default_rng(args.seed)
            start = time.perf_counter()
            baseline = independent_baseline(real, sizes, rho, rng)
            _, row["independent"] = quality_row(real, baseline, names, sizes, target)
            row["independent"]["seconds"] = round(time.perf_counter() - start, 2)
            if args.smartnoise:
                stats, sample = run_smartnoise(
                    args.smartnoise, real, epsilon, args.seed, args.smartnoise_timeout
                )
                if sample is not None:
                    _, scores = quality_row(real, sample, names, sizes, target)
                    stats = {**scores, **stats}
                row["smartnoise_mst"] = stats
            else:
                row["smartnoise_mst"] = {"skipped": "no --smartnoise python given"}
            ours, base = row["edgeml_mst"]["tvd_2way_mean"], row["independent"]["tvd_2way_mean"]
            row["tvd_ratio_vs_independent"] = round(ours / base, 3) if base else None
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
    text = json.dumps({"benchmark": "synthesize", "results": results}, indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
