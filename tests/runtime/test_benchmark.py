"""EdgeModel.benchmark returns coherent numbers (no wall-clock thresholds here)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeml.errors import ConfigError
from edgeml.runtime import BenchmarkResult, load
from edgeml.runtime._benchmark import random_inputs

pytest.importorskip("ai_edge_litert.interpreter")
pytestmark = pytest.mark.tf


@pytest.mark.parametrize("name", ["mlp_int8", "multi"])
def test_benchmark_result_is_coherent(models: dict[str, bytes], name: str) -> None:
    result = load(models[name]).benchmark(batch_size=4, runs=30, warmup=3, num_threads=1)
    assert isinstance(result, BenchmarkResult)
    assert result.runs == 30
    assert result.num_threads == 1
    assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms
    # Throughput is samples over the summed latencies: batch / mean.
    assert result.throughput == pytest.approx(4 / (result.mean_ms / 1e3), rel=1e-9)
    assert result.peak_rss_mb is None or result.peak_rss_mb > 10
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["batch_size"] == 4
    assert "latency p99" in result.to_markdown()
    assert "<table>" in result._repr_html_()


def test_random_inputs_cover_the_quantized_range(models: dict[str, bytes]) -> None:
    model = load(models["mlp_int8"])
    (spec,) = model.inputs
    x = random_inputs(model.inputs, 2000, np.random.default_rng(0))[spec.name]
    q = model.predict(x, output="tuple")  # validates them
    assert q[0].shape == (2000, 3)
    quantized = model._default.inputs[0].quantizer.quantize(x)  # type: ignore[union-attr]
    assert quantized.min() == -128
    assert quantized.max() == 127


def test_benchmark_arguments_are_checked(models: dict[str, bytes]) -> None:
    model = load(models["mlp_float"])
    with pytest.raises(ConfigError, match="'runs'"):
        model.benchmark(runs=0)
    with pytest.raises(ConfigError, match="'batch_size'"):
        model.benchmark(batch_size=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("argument", "value"),
    [("batch_size", 100_000_000), ("runs", 1_000_000_000), ("warmup", 10**12)],
)
def test_sizes_are_bounded_before_anything_is_allocated(
    models: dict[str, bytes], argument: str, value: int
) -> None:
    # A batch of 10^8 samples of this model is 1.2 GB of inputs; 10^9 runs would need an
    # 8 GB timing array. Both used to be attempted.
    model = load(models["mlp_int8"])
    sizes = {"batch_size": 1, "runs": 1, "warmup": 0, argument: value}
    with pytest.raises(ConfigError, match=f"'{argument}'"):
        model.benchmark(**sizes)


def test_the_largest_batch_allowed_runs(models: dict[str, bytes]) -> None:
    model = load(models["mlp_int8"])
    per_sample = 4 * int(np.prod([d or 1 for d in model.inputs[0].shape[1:]]))
    largest = (1 << 30) // per_sample
    with pytest.raises(ConfigError, match=f"from 1 to {largest:,}"):
        model.benchmark(batch_size=largest + 1, runs=1, warmup=0)
