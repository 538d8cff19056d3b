"""edgeml.runtime speed: our EdgeModel.predict against the raw LiteRT loop, in one run.

Models (converted here with TensorFlow's own TFLiteConverter): the digits MLP 64-64-10
(float and int8, trained briefly on scikit-learn's digits), a small CNN on the 8x8
digits (float and int8), and MobileNetV2 alpha 0.35 at 96x96 with random weights
(float and int8). Every interpreter uses one thread.

Measured per model, interleaving ours and the baseline and taking the median of
several repeats:
- single sample: the raw loop (``set_tensor`` + ``invoke`` + ``get_tensor`` on the
  public LiteRT API, input already in the tensor's type) versus ``predict(x)`` with
  float input (quantized by edgeml for int8 models, output dequantized) and
  ``predict(q, raw=True)``. For int8 models the raw loop is also timed with the numpy
  quantize/dequantize a user would write around it (``raw_loop_float_io``), which is
  what float-in ``predict`` is compared with. Goals: ``predict`` within 3x of the raw
  loop for the MLP, within 3 % for MobileNetV2.
- many samples: one ``predict`` on N samples versus the raw loop over the same N one
  at a time (int8 models: also ``predict(..., raw=True)`` on the same int8 inputs the
  raw loop gets). Goal: at least 5x the throughput (N = 10,000; 1,000 for MobileNetV2).
- memory: resident set size before and after 100,000 single-sample ``predict`` calls
  on the int8 MLP. Goal: flat (growth under 1 MiB).

Run: python benchmarks/runtime.py [--quick] [--out results.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from sklearn.datasets import load_digits

import edgeml
from edgeml.runtime import load


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send the converter's chatter (Python and C++) to stderr so stdout is pure JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target


def convert(model: Any, calibration: np.ndarray | None) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([c[None]] for c in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def build_models(quick: bool) -> dict[str, tuple[bytes, np.ndarray]]:
    """name -> (tflite bytes, float samples for that model)."""
    tf.keras.utils.set_random_seed(0)
    x, y = digits()
    mlp = tf.keras.Sequential(
        [
            tf.keras.Input((64,)),
            tf.keras.layers.Dense(64, activation="relu"),
            tf.keras.layers.Dense(10),
        ]
    )
    mlp.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    mlp.fit(x, y, epochs=3, verbose=0)
    images = x.reshape(-1, 8, 8, 1)
    cnn = tf.keras.Sequential(
        [
            tf.keras.Input((8, 8, 1)),
            tf.keras.layers.Conv2D(16, 3, activation="relu"),
            tf.keras.layers.MaxPooling2D(),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(10),
        ]
    )
    cnn.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    cnn.fit(images, y, epochs=3, verbose=0)
    models = {
        "mlp_float": (convert(mlp, None), x),
        "mlp_int8": (convert(mlp, x[:200]), x),
        "cnn_float": (convert(cnn, None), images),
        "cnn_int8": (convert(cnn, images[:200]), images),
    }
    if not quick:
        mobilenet = tf.keras.applications.MobileNetV2(
            input_shape=(96, 96, 3), alpha=0.35, weights=None
        )
        rng = np.random.default_rng(0)
        pictures = rng.uniform(-1, 1, (64, 96, 96, 3)).astype(np.float32)
        models["mobilenetv2_float"] = (convert(mobilenet, None), pictures)
        models["mobilenetv2_int8"] = (convert(mobilenet, pictures[:32]), pictures)
    return models


def per_call_us(function: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls * 1e6


def interleaved(
    candidates: dict[str, Callable[[], Any]], calls: int, repeats: int
) -> dict[str, float]:
    """Median microseconds per call of each candidate, run alternately."""
    for function in candidates.values():
        per_call_us(function, max(1, calls // 10))  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            samples[name].append(per_call_us(function, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def raw_interpreter(content: bytes) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    interpreter = Interpreter(model_content=content, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter, interpreter.get_input_details()[0], interpreter.get_output_details()[0]


def to_tensor_type(x: np.ndarray, details: dict[str, Any]) -> np.ndarray:
    if details["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zero = details["quantization"]
    return np.clip(np.round(x / scale) + zero, -128, 127).astype(details["dtype"])


def bench_model(name: str, content: bytes, samples: np.ndarray, quick: bool) -> dict[str, Any]:
    heavy = name.startswith("mobilenet")
    interpreter, inp, out = raw_interpreter(content)
    model = load(content, num_threads=1)
    x1 = samples[:1]
    q1 = to_tensor_type(x1, inp)

    def raw_loop() -> Any:
        interpreter.set_tensor(inp["index"], q1)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    candidates = {
        "raw_loop": raw_loop,
        "predict": lambda: model.predict(x1),
        "predict_raw": lambda: model.predict(q1, raw=True),
    }
    if inp["dtype"] != np.float32:
        in_scale, in_zero = inp["quantization"]
        out_scale, out_zero = out["quantization"]

        def raw_loop_float_io() -> Any:
            # What a user writes by hand: numpy quantize, the raw loop, numpy dequantize.
            q = np.clip(np.round(x1 / in_scale) + in_zero, -128, 127).astype(np.int8)
            interpreter.set_tensor(inp["index"], q)
            interpreter.invoke()
            return (interpreter.get_tensor(out["index"]).astype(np.float32) - out_zero) * out_scale

        candidates["raw_loop_float_io"] = raw_loop_float_io
    calls = (30 if quick else 200) if heavy else (2_000 if quick else 20_000)
    single = interleaved(candidates, calls, repeats=5 if quick else 9)

    n = (100 if quick else 1_000) if heavy else (1_000 if quick else 10_000)
    rng = np.random.default_rng(1)
    many = samples[rng.integers(0, len(samples), n)]
    many_q = to_tensor_type(many, inp)

    def raw_per_sample() -> Any:
        for i in range(n):
            interpreter.set_tensor(inp["index"], many_q[i : i + 1])
            interpreter.invoke()
            interpreter.get_tensor(out["index"])

    batch_candidates = {
        "raw_per_sample": raw_per_sample,
        "predict_batch": lambda: model.predict(many),
    }
    if inp["dtype"] != np.float32:
        batch_candidates["predict_batch_raw"] = lambda: model.predict(many_q, raw=True)
    batched = interleaved(batch_candidates, calls=1, repeats=3)
    # Same answers: batched predict equals one-at-a-time predict.
    check = many[:200]
    identical = bool(
        np.array_equal(
            model.predict(check), np.concatenate([model.predict(r[None]) for r in check])
        )
    )
    ratio = single["predict"] / single.get("raw_loop_float_io", single["raw_loop"])
    speedup = batched["raw_per_sample"] / batched["predict_batch"]
    result: dict[str, Any] = {
        "bytes": len(content),
        "input_dtype": np.dtype(inp["dtype"]).name,
        "single_sample_us": {k: round(v, 3) for k, v in single.items()},
        "predict_over_raw": round(single["predict"] / single["raw_loop"], 3),
        "predict_raw_over_raw": round(single["predict_raw"] / single["raw_loop"], 3),
        "batch": {
            "samples": n,
            "raw_per_sample_loop_s": round(batched["raw_per_sample"] / 1e6, 6),
            "predict_s": round(batched["predict_batch"] / 1e6, 6),
            "throughput_ratio": round(speedup, 2),
            **(
                {
                    "predict_raw_s": round(batched["predict_batch_raw"] / 1e6, 6),
                    "throughput_ratio_raw": round(
                        batched["raw_per_sample"] / batched["predict_batch_raw"], 2
                    ),
                }
                if "predict_batch_raw" in batched
                else {}
            ),
            "identical_to_per_sample": identical,
        },
    }
    if "raw_loop_float_io" in single:
        result["predict_over_raw_float_io"] = round(ratio, 3)
    # For int8 models the goal compares like with like: float in, float out, i.e. the
    # raw loop plus numpy quantization; predict_raw_over_raw is the wrapper's own cost.
    compared = "predict_over_raw_float_io" if "raw_loop_float_io" in single else "predict_over_raw"
    if name.startswith("mlp"):
        result["goal_single"] = f"{compared} <= 3"
        result["goal_single_met"] = ratio <= 3
    if heavy:
        result["goal_single"] = f"{compared} <= 1.03"
        result["goal_single_met"] = ratio <= 1.03
    if not heavy:
        result["goal_batch"] = "throughput_ratio >= 5"
        result["goal_batch_met"] = speedup >= 5
    return result


def current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_flat(content: bytes, samples: np.ndarray, calls: int) -> dict[str, Any]:
    model = load(content, num_threads=1)
    x1 = samples[:1]
    for _ in range(1_000):
        model.predict(x1)
    before = current_rss_mib()
    for _ in range(calls):
        model.predict(x1)
    after = current_rss_mib()
    return {
        "calls": calls,
        "rss_before_mib": round(before, 2),
        "rss_after_mib": round(after, 2),
        "growth_mib": round(after - before, 3),
        "goal": "growth < 1 MiB",
        "goal_met": after - before < 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small models and fewer calls")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    with stdout_to_stderr():
        models = build_models(args.quick)
    results = {
        name: bench_model(name, content, samples, args.quick)
        for name, (content, samples) in models.items()
    }
    mlp_content, mlp_samples = models["mlp_int8"]
    report = {
        "benchmark": "runtime",
        "edgeml": edgeml.__version__,
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "threads": 1,
        "models": results,
        "memory_mlp_int8": memory_flat(mlp_content, mlp_samples, 10_000 if args.quick else 100_000),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        from edgeml._io import atomic_write

        atomic_write(args.out, text + "\n")


if __name__ == "__main__":
    sys.exit(main())
