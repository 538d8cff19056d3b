"""``edgeml bench``: latency and throughput of a ``.tflite`` model (no TensorFlow needed).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="edgeml")
>>> _ = add_parser(parser.add_subparsers())
>>> args = parser.parse_args(["bench", "model.tflite", "--batch-size", "8"])
>>> args.batch_size, args.runs, args.threads
(8, 200, 1)
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgeml._cli_support import add_model_command

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    # Deferred: `edgeml --help` builds every parser and must not load the runtime.
    from edgeml.runtime._model import load

    model = load(args.model, num_threads=args.threads)
    result = model.benchmark(
        batch_size=args.batch_size, runs=args.runs, warmup=args.warmup, seed=args.seed
    )
    if args.json:
        print(json.dumps({"model": args.model, **result.to_dict()}, indent=2))
    else:
        print(
            f"{args.model}: batch {result.batch_size}, {result.runs} runs after "
            f"{result.warmup} warm-up, {result.num_threads} thread(s), {result.backend}"
        )
        for metric, value in result._rows():
            print(f"  {metric:<20} {value}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {text}")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``edgeml bench`` on an ``argparse`` sub-parser collection.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``bench`` parser.
    """
    parser = add_model_command(
        subparsers,
        "bench",
        help="measure latency percentiles, throughput and peak memory of a .tflite model",
        description=(
            "Run a .tflite model on random inputs through edgeml's runtime and report "
            "latency p50/p90/p99/mean, throughput and the process's peak RSS."
        ),
        run=_run,
    )
    parser.add_argument("--batch-size", type=_positive, default=1, help="samples per call")
    parser.add_argument("--runs", type=_positive, default=200, help="timed calls")
    parser.add_argument("--warmup", type=_non_negative, default=20, help="untimed calls first")
    parser.add_argument(
        "--threads", type=_positive, default=1, help="interpreter threads (default: 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser
