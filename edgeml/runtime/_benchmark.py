"""``EdgeModel.benchmark``: latency percentiles, throughput and peak memory."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml.errors import invalid_argument
from edgeml.runtime._interpreter import check_num_threads
from edgeml.runtime._specs import TensorSpec

__all__ = ["BenchmarkResult", "Benchmarkable", "peak_rss_mb", "random_inputs", "run_benchmark"]


class Benchmarkable(Protocol):
    """What :func:`run_benchmark` uses of a model (``EdgeModel`` provides it)."""

    backend: str
    num_threads: int | None

    @property
    def inputs(self) -> tuple[TensorSpec, ...]: ...

    def predict(self, x: Any) -> Any: ...

    def clone(self, *, num_threads: int | None = None) -> Benchmarkable: ...


@dataclass(frozen=True)
class BenchmarkResult:
    """Timing of ``EdgeModel.predict`` on random inputs.

    Attributes
    ----------
    batch_size : int
        Samples per call.
    runs, warmup : int
        Timed and untimed calls.
    num_threads : int or None
        Interpreter threads (``None``: the interpreter's default).
    backend : str
        ``"litert"`` or ``"tflite"``.
    p50_ms, p90_ms, p99_ms, mean_ms : float
        Latency of one call in milliseconds (percentiles by linear interpolation).
    throughput : float
        Samples per second over the timed calls.
    peak_rss_mb : float or None
        Peak resident memory of the whole process so far, in MiB (``None`` where the
        platform does not report it).
    """

    batch_size: int
    runs: int
    warmup: int
    num_threads: int | None
    backend: str
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    throughput: float
    peak_rss_mb: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(self.__dict__))

    def _rows(self) -> list[list[Any]]:
        rss = "n/a" if self.peak_rss_mb is None else f"{self.peak_rss_mb:.1f} MiB"
        return [
            ["latency p50", _duration(self.p50_ms)],
            ["latency p90", _duration(self.p90_ms)],
            ["latency p99", _duration(self.p99_ms)],
            ["latency mean", _duration(self.mean_ms)],
            ["throughput", f"{self.throughput:,.1f} samples/s"],
            ["peak RSS (process)", rss],
        ]

    def to_markdown(self) -> str:
        """Return the numbers as a Markdown table."""
        return markdown_table(["metric", "value"], self._rows())

    def _repr_html_(self) -> str:
        caption = (
            f"batch {self.batch_size}, {self.runs} runs, threads {self.num_threads}, {self.backend}"
        )
        return html_table(["metric", "value"], self._rows(), caption=caption)

    def __repr__(self) -> str:
        return (
            f"BenchmarkResult(batch_size={self.batch_size}, p50={self.p50_ms:.4g} ms, "
            f"p99={self.p99_ms:.4g} ms, throughput={self.throughput:,.1f}/s)"
        )


def _duration(milliseconds: float) -> str:
    if milliseconds < 1:
        return f"{milliseconds * 1e3:.4g} us"
    return f"{milliseconds:.4g} ms"


def peak_rss_mb() -> float | None:
    """Return the process's peak resident set size in MiB, or ``None`` if unknown.

    Examples
    --------
    >>> peak = peak_rss_mb()
    >>> peak is None or peak > 0
    True
    """
    try:
        import resource  # Unix only: imported here so that Windows gets None, not an error
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


_MAX_RUNS = 1_000_000
_MAX_INPUT_BYTES = 1 << 30
_GENERATED_BYTES = 4  # random inputs are generated as float32 (bool and int8 take less)


def random_inputs(
    specs: tuple[TensorSpec, ...], batch_size: int, rng: np.random.Generator
) -> dict[str, NDArray[Any]]:
    """Random real-valued inputs that fit ``specs``, with ``batch_size`` samples.

    Quantized inputs get values spread over the range their integers can represent.

    Examples
    --------
    >>> from edgeml.runtime._specs import TensorSpec
    >>> spec = TensorSpec("x", (None, 3), "float32", None, "x:0", 0)
    >>> random_inputs((spec,), 2, np.random.default_rng(0))["x"].shape
    (2, 3)
    """
    arrays: dict[str, NDArray[Any]] = {}
    for spec in specs:
        shape = [batch_size if i == 0 else (d or 1) for i, d in enumerate(spec.shape)]
        dtype = np.dtype(spec.dtype)
        q = spec.quantization
        if q is not None and not q.per_channel:
            info = np.iinfo(dtype)
            low = q.scale[0] * (info.min - q.zero_point[0])
            high = q.scale[0] * (info.max - q.zero_point[0])
            arrays[spec.name] = rng.uniform(low, high, shape).astype(np.float32)
        elif dtype.kind == "f" or q is not None:
            arrays[spec.name] = rng.standard_normal(shape).astype(np.float32)
        elif dtype.kind == "b":
            arrays[spec.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            arrays[spec.name] = rng.integers(0, 2, shape).astype(dtype)
    return arrays


def run_benchmark(
    model: Benchmarkable,
    *,
    batch_size: int,
    runs: int,
    warmup: int,
    num_threads: int | None,
    seed: int,
) -> BenchmarkResult:
    """Time ``model.predict``; see :meth:`EdgeModel.benchmark`."""
    # Sizes are bounded before anything is allocated: a typo in a run count or batch size
    # must be an error, not a process the kernel kills for its memory.
    per_sample = sum(
        math.prod(d or 1 for d in spec.shape[1:]) * _GENERATED_BYTES for spec in model.inputs
    )
    largest_batch = max(1, _MAX_INPUT_BYTES // max(per_sample, 1))
    checks = (
        ("batch_size", batch_size, 1, largest_batch),
        ("runs", runs, 1, _MAX_RUNS),
        ("warmup", warmup, 0, _MAX_RUNS),
    )
    for name, value, low, high in checks:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid_argument(
                "benchmark",
                name,
                value,
                f"an integer from {low} to {high:,}",
                fix=(
                    "inputs of one batch are limited to 1 GiB"
                    if name == "batch_size"
                    else f"time at most {_MAX_RUNS:,} calls"
                ),
            )
    check_num_threads("benchmark", num_threads)
    target = model if num_threads is None else model.clone(num_threads=num_threads)
    inputs = random_inputs(target.inputs, batch_size, np.random.default_rng(seed))
    x: Any = inputs if len(inputs) != 1 else next(iter(inputs.values()))
    predict = target.predict
    for _ in range(warmup):
        predict(x)
    timings = np.empty(runs)
    clock = time.perf_counter
    for i in range(runs):
        start = clock()
        predict(x)
        timings[i] = clock() - start
    p50, p90, p99 = np.percentile(timings, [50, 90, 99]) * 1e3
    return BenchmarkResult(
        batch_size=batch_size,
        runs=runs,
        warmup=warmup,
        num_threads=target.num_threads,
        backend=target.backend,
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        mean_ms=float(timings.mean() * 1e3),
        throughput=float(batch_size * runs / timings.sum()),
        peak_rss_mb=peak_rss_mb(),
    )
