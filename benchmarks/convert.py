"""Reference results for edgeml.convert on scikit-learn's digits, plus MobileNetV2 sizes.

For an MLP 64-64-10 and a small CNN trained on digits (80/20 stratified split, seed 0):
float32, dynamic, float16, int8 (int8 I/O and float I/O), int16x8, int4 weights (when
ai-edge-quantizer is installed), QAT -> int8,
prune 50 % / 80 % and cluster 16 -> bytes, gzip bytes, test accuracy through the LiteRT
interpreter, and conversion seconds. The baseline in the same run is the float model
evaluated by Keras itself. Then MobileNetV2 (alpha 0.35, 96x96, random weights) float vs
int8 bytes.

Prints a Markdown table to stderr and JSON to stdout:

    python benchmarks/convert.py [--epochs 25] [--skip-mobilenet]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    return x_train, y_train, x_test, y_test


def build(kind: str) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    if kind == "mlp":
        return keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ],
            name="mlp",
        )
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="cnn",
    )


def fit(model: Any, x: np.ndarray, y: np.ndarray, epochs: int, callbacks: Any = None) -> Any:
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks or [])
    return model


def row(name: str, tfl: Any, x_test: np.ndarray, y_test: np.ndarray, seconds: float) -> dict:
    report = tfl.report
    return {
        "variant": name,
        "bytes": report.bytes,
        "gzip_bytes": report.gzip_bytes,
        "accuracy": round(tfl.evaluate(x_test, y_test), 4),
        "convert_seconds": round(seconds, 3),
        "io": f"{report.inputs[0].dtype}/{report.outputs[0].dtype}",
        "float_ops": len(report.float_ops),
        "warnings": len(report.warnings),
    }


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def reference_rows(kind: str, epochs: int) -> dict:
    from edgeml.conversion import (
        cluster,
        convert,
        prune,
        pruning_callbacks,
        quantize_aware,
    )

    x_train, y_train, x_test, y_test = digits()
    if kind == "cnn":
        x_train, x_test = x_train.reshape(-1, 8, 8, 1), x_test.reshape(-1, 8, 8, 1)
    model = fit(build(kind), x_train, y_train, epochs)
    keras_accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test))
    rows = []
    plain = [
        ("float32", {}),
        ("dynamic", {"quantization": "dynamic"}),
        ("float16", {"quantization": "float16"}),
        ("int8 (float I/O)", {"quantization": "int8", "representative_data": x_train}),
        ("int8 (int8 I/O)", {"quantization": "int8", "representative_data": x_train, "io": "int8"}),
        ("int16x8", {"quantization": "int16x8", "representative_data": x_train}),
    ]
    if importlib.util.find_spec("ai_edge_quantizer") is not None:
        plain.append(("int4 weights", {"quantization": "int4-weights"}))
    for name, kwargs in plain:
        tfl, seconds = timed(convert, model, **kwargs)
        rows.append(row(name, tfl, x_test, y_test, seconds))
    fine_tune = max(2, epochs // 5)
    qat = fit(quantize_aware(model, calibration_data=x_train), x_train, y_train, fine_tune)
    tfl, seconds = timed(convert, qat, quantization="int8", io="int8")
    rows.append(row("QAT -> int8", tfl, x_test, y_test, seconds))
    for sparsity in (0.5, 0.8):
        pruned = fit(
            prune(model, target_sparsity=sparsity),
            x_train,
            y_train,
            fine_tune,
            callbacks=pruning_callbacks(),
        )
        tfl, seconds = timed(convert, pruned)
        rows.append(row(f"prune {int(sparsity * 100)}%", tfl, x_test, y_test, seconds))
    clustered = fit(cluster(model, n_clusters=16), x_train, y_train, fine_tune)
    tfl, seconds = timed(convert, clustered)
    rows.append(row("cluster 16", tfl, x_test, y_test, seconds))
    return {"model": kind, "baseline_keras_float_accuracy": round(keras_accuracy, 4), "rows": rows}


def mobilenet() -> dict:
    import keras

    from edgeml.conversion import convert

    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None)
    data = np.random.default_rng(0).uniform(-1, 1, size=(32, 96, 96, 3)).astype(np.float32)
    float_model, float_seconds = timed(convert, model)
    int8_model, int8_seconds = timed(
        convert, model, quantization="int8", representative_data=data, io="int8"
    )
    return {
        "model": "MobileNetV2 alpha=0.35 96x96 (random weights)",
        "float32_bytes": float_model.report.bytes,
        "int8_bytes": int8_model.report.bytes,
        "ratio": round(int8_model.report.bytes / float_model.report.bytes, 3),
        "float32_convert_seconds": round(float_seconds, 2),
        "int8_convert_seconds": round(int8_seconds, 2),
        "issue_measurement": {"float32_bytes": 6_680_000, "int8_bytes": 1_890_000},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--skip-mobilenet", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"digits": [reference_rows(k, args.epochs) for k in ("mlp", "cnn")]}
    if not args.skip_mobilenet:
        results["mobilenet_v2"] = mobilenet()
    from edgeml._display import markdown_table

    for block in results["digits"]:
        headers = list(block["rows"][0])
        print(
            f"\n{block['model']} (Keras float accuracy {block['baseline_keras_float_accuracy']})",
            file=sys.stderr,
        )
        print(markdown_table(headers, [list(r.values()) for r in block["rows"]]), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
