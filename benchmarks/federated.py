"""Federated learning with client-level DP: accounting, accuracy and cost, in one run.

1. Epsilon after rounds 1..R (noise 1.0, 100 clients, 10 expected per round, delta 1e-5):
   edgeml's accounting (Poisson client sampling, amplification applied) next to
   dp-accounting called directly and Flower's RdpAccountant in the mode its DP strategy
   wrappers accept (no amplification); plus the issue's setting (2 clients, both every
   round), where all three must agree.
2. Accuracy of FedAvg on a non-IID label-skew split of scikit-learn's digits over fleets
   of 20 and 200 simulated clients (each client holds two label shards, McMahan et al.
   2017): non-private, client-level DP-FedAvg at epsilon 8 and 3 (clip norm near the
   median update norm, fixed and adaptive), and centralized (example-level) DP-SGD at the
   same epsilons for reference. The federated rounds run in-process through edgeml's own
   aggregation code (``DPFedAvg.aggregate``, Poisson sampling included) with a numpy
   softmax-regression client (a ``Trainable``), so the accuracy study takes seconds; the
   Flower runtime itself is measured in 3.
3. Wall time and peak memory (RSS summed over this process and its descendants: Ray's
   workers) of a Flower ``run_simulation`` with 10 Keras clients and 5 rounds.

Run: python benchmarks/federated.py [--clients 20,200] [--sampling-rate 0.5,0.1]
     [--clip 1.0,0.3] [--rounds 30] [--sim-clients 10] [--sim-rounds 5]
     [--skip-simulation] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dp_accounting
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from edgeml.errors import ConfigError
from edgeml.federated import ClientLevelDP
from edgeml.federated._replies import Screened

logging.getLogger("absl").setLevel(logging.ERROR)
DELTA = 1e-5


# ----------------------------------------------------------------------------- epsilon
def flower_epsilon(sampling: str, z: float, sample: int, population: int, rounds: int) -> float:
    from flwr.serverapp import NeighboringRelation, PrivacyConfig, SamplingMethod
    from flwr.supercore.privacy_accounting import GaussianPrivacyEvent
    from flwr.supercore.privacy_accounting.rdp_accountant import RdpAccountant

    accountant = RdpAccountant(
        PrivacyConfig(
            target_delta=DELTA,
            population_size=population,
            neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
            sampling_method=getattr(SamplingMethod, sampling),
        )
    )
    accountant.compose(
        GaussianPrivacyEvent(noise_multiplier=z, sample_size=sample, population_size=population),
        count=rounds,
    )
    return float(accountant.get_epsilon(DELTA))


def direct_epsilon(z: float, q: float, rounds: int) -> float:
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)), rounds
    )
    return float(dp_accounting.rdp.RdpAccountant().compose(event).get_epsilon(DELTA))


def epsilon_table(rounds: int, clients: int = 100, expected: int = 10, z: float = 1.0) -> dict:
    q = expected / clients
    rows = []
    for r in range(1, rounds + 1):
        ours = ClientLevelDP(
            num_clients=clients, sampling_rate=q, rounds=r, noise_multiplier=z
        ).epsilon()
        flower = flower_epsilon("NO_AMPLIFICATION", z, expected, clients, r)
        rows.append(
            {
                "round": r,
                "edgeml": ours,
                "dp_accounting_direct": direct_epsilon(z, q, r),
                "flower_rdp_no_amplification": flower,
                "ratio_edgeml_over_flower": ours / flower,
            }
        )
    issue = []
    for r in (1, 2, 3):
        ours = ClientLevelDP(num_clients=2, sampling_rate=1.0, rounds=r, noise_multiplier=z)
        issue.append(
            {
                "round": r,
                "edgeml": ours.epsilon(),
                "flower_rdp_no_amplification": flower_epsilon("NO_AMPLIFICATION", z, 2, 2, r),
            }
        )
    return {
        "setting": {"noise_multiplier": z, "clients": clients, "sampling_rate": q, "delta": DELTA},
        "rows": rows,
        "issue_setting_q1": issue,
    }


# ----------------------------------------------------------------------------- accuracy
class SoftmaxClient:
    """A numpy softmax-regression Trainable: what a non-Keras backend plugs in as."""

    def __init__(self, features: int, classes: int, *, epochs: int, lr: float, seed: int):
        self.w = np.zeros((features, classes))
        self.b = np.zeros(classes)
        self.epochs, self.lr = epochs, lr
        self.rng = np.random.default_rng(seed)

    def get_weights(self) -> list[np.ndarray]:
        return [self.w.copy(), self.b.copy()]

    def set_weights(self, weights) -> None:
        self.w, self.b = np.array(weights[0], dtype=float), np.array(weights[1], dtype=float)

    def _probs(self, x):
        logits = x @ self.w + self.b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def fit(self, x, y) -> dict[str, float]:
        onehot = np.eye(self.w.shape[1])[y]
        for _ in range(self.epochs):
            order = self.rng.permutation(len(x))
            for start in range(0, len(x), 16):
                idx = order[start : start + 16]
                grad = self._probs(x[idx]) - onehot[idx]
                self.w -= self.lr * x[idx].T @ grad / len(idx)
                self.b -= self.lr * grad.mean(axis=0)
        return {}

    def evaluate(self, x, y) -> dict[str, float]:
        return {"accuracy": float((self._probs(x).argmax(axis=1) == y).mean())}


def label_skew(y: np.ndarray, clients: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = np.argsort(y, kind="stable")
    shards = np.array_split(order, 2 * clients)
    chosen = rng.permutation(2 * clients)
    return [
        np.concatenate([shards[chosen[2 * i]], shards[chosen[2 * i + 1]]]) for i in range(clients)
    ]


def federated_accuracy(data, parts, *, rounds, dp=None, seed=0, epochs=1, lr=0.1) -> float:
    from flwr.serverapp.strategy import FedAvg

    from edgeml.federated import DPFedAvg

    x, y, x_test, y_test = data
    model = SoftmaxClient(x.shape[1], 10, epochs=epochs, lr=lr, seed=seed)
    weights = model.get_weights()
    strategy = DPFedAvg(FedAvg(), dp, seed=seed) if dp is not None else None
    for _ in range(rounds):
        chosen = strategy.sample(list(range(len(parts)))) if strategy else range(len(parts))
        replies = []
        for c in chosen:
            model.set_weights(weights)
            model.fit(x[parts[c]], y[parts[c]])
            replies.append(Screened(c, model.get_weights(), len(parts[c]), None))
        if strategy is None:
            total = sum(r.num_examples for r in replies)
            weights = [
                sum(r.weights[i] * r.num_examples / total for r in replies) for i in range(2)
            ]
        else:
            strategy.current = weights
            weights = strategy.aggregate(replies)
    model.set_weights(weights)
    return model.evaluate(x_test, y_test)["accuracy"]


def central_dpsgd_accuracy(data, epsilon: float, epochs: int, seed: int = 0) -> dict:
    import keras

    from edgeml.privacy import make_private

    x, y, x_test, y_test = data
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(10)])
    model = make_private(
        model,
        target_epsilon=epsilon,
        delta=DELTA,
        epochs=epochs,
        batch_size=64,
        num_examples=len(x),
        l2_norm_clip=1.0,
        seed=seed,
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none"),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=epochs, verbose=0)
    return {
        "accuracy": float(model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]),
        "noise_multiplier": float(model.privacy.noise_multiplier),
        "epsilon": float(model.privacy.spent().epsilon),
        "unit": "example-level (one row), not client-level",
    }


def digits_split():
    digits = load_digits()
    x, x_test, y, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    return x, y, x_test, y_test


def accuracy_study(clients: int, rounds: int, sampling_rate: float, clip: float, seeds: int):
    data = digits_split()
    parts = label_skew(data[1], clients, np.random.default_rng(0))
    out = {
        "setting": {
            "clients": clients,
            "rounds": rounds,
            "sampling_rate": sampling_rate,
            "clip_norm": clip,
            "split": "label skew, 2 label-sorted shards per client",
            "model": "softmax regression (64 -> 10)",
            "local": "1 epoch SGD, batch 16, lr 0.1",
            "seeds": seeds,
            "delta": DELTA,
        },
        "non_private": float(
            np.mean([federated_accuracy(data, parts, rounds=rounds, seed=s) for s in range(seeds)])
        ),
    }
    for eps in (8.0, 3.0):
        for adaptive in (False, True):
            name = f"client_level_dp_eps{eps:g}" + ("_adaptive" if adaptive else "")
            try:
                dp = ClientLevelDP(
                    num_clients=clients,
                    sampling_rate=sampling_rate,
                    rounds=rounds,
                    target_epsilon=eps,
                    clip_norm=clip,
                    delta=DELTA,
                    adaptive=adaptive,
                )
            except ConfigError as exc:  # e.g. too few clients for the adaptive count
                out[name] = {"refused": str(exc)}
                continue
            accs = [
                federated_accuracy(data, parts, rounds=rounds, dp=dp, seed=s) for s in range(seeds)
            ]
            out[name] = {
                "accuracy": float(np.mean(accs)),
                "noise_multiplier": dp.update_noise_multiplier,
                "noise_std_on_average": dp.noise_std(),
                "epsilon": dp.epsilon(),
            }
    return out


def central_study() -> dict:
    data = digits_split()
    return {
        f"central_dpsgd_eps{eps:g}": central_dpsgd_accuracy(data, eps, epochs=20)
        for eps in (8.0, 3.0)
    }


# ----------------------------------------------------------------------------- Flower run
def _tree_rss(pid: int) -> int:
    total, queue = 0, [pid]
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    while queue:
        p = queue.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
        queue.extend(children.get(p, []))
    return total


def simulation_cost(clients: int, rounds: int) -> dict:
    import keras

    from edgeml.federated import client_app, server_app, simulate

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target
    parts = label_skew(y, clients, np.random.default_rng(0))

    def model_fn():
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])

    def data_fn(context):
        idx = parts[int(context.node_config["partition-id"])]
        return x[idx], y[idx]

    dp = ClientLevelDP(num_clients=clients, sampling_rate=0.5, rounds=rounds, target_epsilon=8.0)
    results = []
    server = server_app(model_fn, dp=dp, on_result=results.append, fraction_evaluate=0.0)
    client = client_app(
        model_fn,
        data_fn,
        fit={"epochs": 1, "batch_size": 16},
        compile={
            "optimizer": "sgd",
            "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        },
    )
    peak, stop = [0], threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(os.getpid()))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    simulate(server, client, num_clients=clients)
    wall = time.perf_counter() - start
    stop.set()
    watcher.join()
    return {
        "clients": clients,
        "rounds": rounds,
        "ray_cpus": 1,
        "wall_seconds": wall,
        "peak_rss_mb_process_tree": peak[0] / 2**20,
        "rounds_completed": len(results[0].rounds) if results else 0,
        "epsilon": results[0].guarantee.epsilon if results else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eps-rounds", type=int, default=10)
    parser.add_argument("--clients", default="20,200", help="fleet sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sampling-rate", default="0.5,0.1", help="one per fleet size")
    parser.add_argument(
        "--clip", default="1.0,0.3", help="clip norm per fleet size (about the median update norm)"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sim-clients", type=int, default=10)
    parser.add_argument("--sim-rounds", type=int, default=5)
    parser.add_argument("--skip-simulation", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    result = {
        "platform": platform.platform(),
        "epsilon": epsilon_table(args.eps_rounds),
        "accuracy": [
            accuracy_study(int(n), args.rounds, float(q), float(c), args.seeds)
            for n, q, c in zip(
                args.clients.split(","),
                args.sampling_rate.split(","),
                args.clip.split(","),
                strict=True,
            )
        ],
        "central_reference": central_study(),
    }
    if not args.skip_simulation:
        result["simulation"] = simulation_cost(args.sim_clients, args.sim_rounds)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
