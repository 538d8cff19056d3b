"""DP-SGD speed and accuracy: edgeml's private step versus plain Keras, in one run.

Speed: the same model, data and batch size (256), two threads, one fixed batch fed with
train_on_batch to both (so the input pipeline is out of the comparison), interleaved
rounds; reports the best round of each and their ratio (goal: <= 1.5), plus the median
of the per-round ratios.

Accuracy: scikit-learn's digits (80/20 split, seeded), non-private vs DP-SGD at
epsilon 1, 3 and 8 (delta 1e-5), for an MLP and a small CNN on the 8x8 images.

Run: python benchmarks/dpsgd.py [--quick] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)

import keras  # noqa: E402

from edgeml.privacy import make_private  # noqa: E402

logging.getLogger("absl").setLevel(logging.ERROR)
BATCH = 256


def mlp(input_shape: tuple[int, ...], classes: int = 10) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(classes),
        ]
    )


def cnn(input_shape: tuple[int, ...], classes: int = 10) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(classes),
        ]
    )


def loss(reduction: str) -> keras.losses.Loss:
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)


def _compiled(build, private: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = build((28, 28, 1))
    if private:
        make_private(
            model,
            noise_multiplier=1.0,
            l2_norm_clip=1.0,
            delta=1e-6,
            num_examples=60000,
            batch_size=BATCH,
            seed=0,
        )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=loss("none" if private else "sum_over_batch_size"),
        jit_compile=False,  # the DP step is never XLA-compiled (variable batch sizes)
    )
    return model


def step_times(build, rounds: int, steps: int) -> dict[str, float]:
    """Median ms per step of plain and DP training at batch 256, measured interleaved.

    Both models train on the same fixed batch with Keras' own ``train_on_batch`` (the DP
    model's step is the private one; a private model refuses ``train_on_batch`` because
    it skips the budget stop, so the class's method is called to time the bare step).
    Rounds alternate between the two so that load from other processes on a shared
    machine affects both alike; the ratio is the median of the per-round ratios.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, BATCH)
    models = {"plain": _compiled(build, False), "dp": _compiled(build, True)}
    train_on_batch = keras.Model.train_on_batch
    for model in models.values():
        for _ in range(3):
            train_on_batch(model, x, y)
    per_round: dict[str, list[float]] = {"plain": [], "dp": []}
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(steps):
                train_on_batch(model, x, y)
            per_round[name].append((time.perf_counter() - start) / steps)
    ratios = [d / p for d, p in zip(per_round["dp"], per_round["plain"], strict=True)]
    return {
        # Best round of each (as timeit does): the least disturbed by other processes.
        "non_private_ms": round(min(per_round["plain"]) * 1e3, 3),
        "dp_ms": round(min(per_round["dp"]) * 1e3, 3),
        "ratio": round(min(per_round["dp"]) / min(per_round["plain"]), 3),
        "median_ratio_of_rounds": round(statistics.median(ratios), 3),
        "goal_ratio": 1.5,
    }


def digits_accuracy(build_name: str, epsilons: list[float], epochs: int) -> dict[str, float]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=0)

    def build():
        keras.utils.set_random_seed(0)
        if build_name == "mlp":
            return mlp((8, 8, 1))
        return keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
                keras.layers.MaxPooling2D(),
                keras.layers.Flatten(),
                keras.layers.Dense(10),
            ]
        )

    batch = 64
    out: dict[str, float] = {}
    model = build()
    model.compile(
        optimizer=keras.optimizers.SGD(0.5), loss=loss("sum_over_batch_size"), metrics=["accuracy"]
    )
    model.fit(xtr, ytr, batch_size=batch, epochs=epochs, verbose=0)
    out["non_private"] = float(model.evaluate(xte, yte, verbose=0)[1])
    for eps in epsilons:
        model = make_private(
            build(),
            target_epsilon=eps,
            delta=1e-5,
            l2_norm_clip=1.0,
            batch_size=batch,
            num_examples=len(xtr),
            epochs=epochs,
            seed=1,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss("none"), metrics=["accuracy"])
        model.fit(xtr, ytr, epochs=epochs, verbose=0)
        out[f"epsilon_{eps:g}"] = float(model.evaluate(xte, yte, verbose=0)[1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer steps and epochs")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    rounds, steps = (5, 10) if args.quick else (15, 20)
    result: dict[str, object] = {
        "benchmark": "dpsgd",
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "machine": platform.machine(),
        "threads": 2,
        "batch_size": BATCH,
        "step_time": {},
    }
    for name, build in (("mlp_784_128_10", mlp), ("cnn_conv16_pool_conv32_pool_dense10", cnn)):
        result["step_time"][name] = step_times(build, rounds, steps)  # type: ignore[index]
    if not args.skip_accuracy:
        epochs = 10 if args.quick else 30
        result["digits_accuracy"] = {
            "epochs": epochs,
            "delta": 1e-5,
            "mlp": digits_accuracy("mlp", [1.0, 3.0, 8.0], epochs),
            "cnn": digits_accuracy("cnn", [1.0, 3.0, 8.0], epochs),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
