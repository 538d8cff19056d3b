"""On-device training through LiteRT against the same steps in TensorFlow.

Two models on scikit-learn's digits: an MLP 64-64-10 trained whole with Adam, and a small
CNN whose convolutional backbone is frozen while a Dense head trains with SGD. For each:

- loss of each of ``--steps`` steps through LiteRT (``EdgeModel.train_step``) and through
  Keras' own ``train_on_batch`` with the same optimizer (the baseline), on the same
  batches: first-step difference, largest difference, start and end losses;
- step time (median of ``--repeats``) of LiteRT, a TF eager step (GradientTape +
  ``optimizer.apply_gradients``) and the same step in a ``tf.function``; plus LiteRT
  without the per-step snapshot that ``train_step`` takes, and a local-DP step
  (per-example gradients, clipping, CSPRNG noise) at the same expected batch size, with
  the privacy accounting that ``fit`` runs once apart;
- size of the trainable file vs the inference-only ``edgeml.convert`` file (and with an
  int8 backbone for the CNN); every op in the trainable file, and whether all are builtin.

With ``--mobilenet``, also a frozen MobileNetV2 (alpha 0.35, 96x96) with a Dense head:
file sizes with a float and an int8 backbone, and the step time. Prints JSON to stdout:

    python benchmarks/on_device.py [--steps 30] [--repeats 50] [--batch-size 32] [--mobilenet]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


def build(kind: str) -> tuple[Any, Any]:
    import keras

    keras.utils.set_random_seed(0)
    if kind == "mlp":
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        return model, keras.optimizers.Adam(1e-3)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    for layer in model.layers[:3]:
        layer.trainable = False
    return model, keras.optimizers.SGD(0.05)


def median_ms(function: Callable[[], Any], repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1e3, 4)


def run(kind: str, x: np.ndarray, y: np.ndarray, steps: int, repeats: int, batch: int) -> Any:
    import keras
    import tensorflow as tf
    from ai_edge_litert.tools import flatbuffer_utils

    import edgeml
    from edgeml.conversion import to_trainable

    if kind == "cnn":
        x = x.reshape(-1, 8, 8, 1)
    model, optimizer = build(kind)
    trainable = to_trainable(model, loss="sparse_categorical_crossentropy", optimizer=optimizer)
    inference = edgeml.convert(model)
    edge = edgeml.load(trainable.bytes, num_threads=1)

    def twin() -> Any:
        """A copy of ``model`` with its weights and its frozen layers."""
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        for a, b in zip(copy.layers, model.layers, strict=True):
            a.trainable = b.trainable
        return copy

    reference = twin()
    reference.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    ours, theirs = [], []
    for i in range(steps):
        rows = np.arange(i * batch, (i + 1) * batch) % len(x)
        ours.append(edge.train_step(x[rows], y[rows]))
        theirs.append(float(reference.train_on_batch(x[rows], y[rows])))
    gaps = np.abs(np.array(ours) - np.array(theirs))

    xb, yb = x[:batch], y[:batch]
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    timed = twin()
    tf_optimizer = type(optimizer).from_config(optimizer.get_config())
    xt, yt = tf.constant(xb), tf.constant(yb)

    def eager_step() -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(yt, timed(xt, training=True))
        grads = tape.gradient(loss, timed.trainable_variables)
        tf_optimizer.apply_gradients(zip(grads, timed.trainable_variables, strict=True))
        return loss

    graph_step = tf.function(eager_step)
    xs, ys = xb.astype(np.float32), yb.astype(np.int32)
    dp_model = edgeml.load(trainable.bytes, num_threads=1)
    dp_repeats = max(3, repeats // 10)
    x4, y4 = x[: batch * 4], y[: batch * 4].astype(np.int32)
    dp_plan = dp_model._dp_plan(len(x4), 1, batch, 1.0, 1.0, 1e-5)
    timing = {
        "litert_train_step_ms": median_ms(lambda: edge.train_step(xb, yb), repeats),
        "litert_step_without_snapshot_ms": median_ms(lambda: edge._step(xs, ys), repeats),
        "tf_eager_step_ms": median_ms(eager_step, repeats),
        "tf_function_step_ms": median_ms(graph_step, repeats),
        "litert_local_dp_step_ms": median_ms(
            lambda: dp_model._dp_epoch(x4, y4, dp_plan, np.random.default_rng(0)), dp_repeats
        )
        / dp_plan["steps_per_epoch"],
        "dp_accounting_per_fit_ms": median_ms(
            lambda: dp_model._dp_plan(len(x4), 1, batch, 1.0, 1.0, 1e-5), 3
        ),
    }
    timing["ratio_litert_vs_tf_eager"] = round(
        timing["litert_train_step_ms"] / timing["tf_eager_step_ms"], 3
    )
    timing["ratio_litert_vs_tf_function"] = round(
        timing["litert_train_step_ms"] / timing["tf_function_step_ms"], 3
    )
    timing["ratio_local_dp_vs_plain"] = round(
        timing["litert_local_dp_step_ms"] / timing["litert_train_step_ms"], 2
    )
    builtin = {n for n in vars(flatbuffer_utils.schema_fb.BuiltinOperator) if n.isupper()}
    ops = sorted(trainable.report.op_counts)
    sizes = {
        "trainable_bytes": len(trainable.bytes),
        "inference_only_bytes": len(inference.bytes),
        "ratio": round(len(trainable.bytes) / len(inference.bytes), 2),
    }
    if kind == "cnn":
        sizes["trainable_int8_backbone_bytes"] = len(
            to_trainable(
                model,
                loss="sparse_categorical_crossentropy",
                optimizer=optimizer,
                quantize_backbone=True,
            ).bytes
        )
    return {
        "model": kind,
        "trained_layers": trainable.metadata["on_device_training"]["trained_layers"],
        "optimizer": trainable.metadata["on_device_training"]["optimizer"]["name"],
        "steps": steps,
        "batch_size": batch,
        "loss": {
            "litert_first": ours[0],
            "tf_first": theirs[0],
            "first_step_abs_diff": float(gaps[0]),
            "max_abs_diff": float(gaps.max()),
            "litert_last": ours[-1],
            "tf_last": theirs[-1],
            "same_trend": bool((ours[-1] < ours[0]) == (theirs[-1] < theirs[0])),
        },
        "step_time": timing,
        "size": sizes,
        "ops": ops,
        "all_builtin": set(ops) <= builtin,
    }


def mobilenet(repeats: int) -> dict[str, Any]:
    """MobileNetV2 (alpha 0.35, 96x96, random weights) frozen, a Dense head trained."""
    import keras

    import edgeml
    from edgeml.conversion import to_trainable

    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None
    )
    base.trainable = False
    model = keras.Sequential(
        [
            keras.Input((96, 96, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    x = np.random.default_rng(0).random((16, 96, 96, 3)).astype(np.float32)
    y = np.arange(16) % 5
    out: dict[str, Any] = {"model": "mobilenet_v2_0.35_96_frozen", "batch_size": 16}
    for int8 in (False, True):
        trainable = to_trainable(
            model,
            loss="sparse_categorical_crossentropy",
            optimizer="adam",
            quantize_backbone=int8,
        )
        inference = edgeml.convert(model, quantization="dynamic" if int8 else None)
        edge = edgeml.load(trainable.bytes, num_threads=1)
        key = "int8_backbone" if int8 else "float"
        out[key] = {
            "trainable_bytes": len(trainable.bytes),
            "inference_only_bytes": len(inference.bytes),
            "litert_train_step_ms": median_ms(lambda e=edge: e.train_step(x, y), repeats),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--mobilenet", action="store_true", help="also a MobileNetV2 backbone (about 2 min)"
    )
    args = parser.parse_args()
    x, y = digits()
    results = [run(k, x, y, args.steps, args.repeats, args.batch_size) for k in ("mlp", "cnn")]
    if args.mobilenet:
        results.append(mobilenet(max(3, args.repeats // 10)))
    print(json.dumps({"benchmark": "on_device_training", "results": results}, indent=2))


if __name__ == "__main__":
    main()
