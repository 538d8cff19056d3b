"""``edgeml inspect``: describe a ``.tflite`` model (no TensorFlow needed).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="edgeml")
>>> _ = add_parser(parser.add_subparsers())
>>> parser.parse_args(["inspect", "model.tflite", "--json"]).json
True
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgeml._cli_support import add_model_command

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    # Deferred: `edgeml --help` builds every parser and must not load numpy and friends.
    from edgeml.runtime._inspect import inspect_model

    info = inspect_model(args.model)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        print(info.to_text())
        if args.card:
            _print_card(args.model)
    return 0 if info.integrity.ok else 1


def _print_card(model: str) -> None:
    # Deferred like inspect_model above: only `--card` needs the card package.
    from edgeml.card import read_card

    card = read_card(model)
    if card is None:
        print("\nmodel card: none embedded (add one with edgeml.card.embed_card)")
    else:
        print()
        print(card.to_markdown())


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``edgeml inspect`` on an ``argparse`` sub-parser collection.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``inspect`` parser.
    """
    parser = add_model_command(
        subparsers,
        "inspect",
        help="describe a .tflite model: inputs, outputs, ops, size, metadata, integrity",
        description=(
            "Describe a .tflite model without running it: inputs and outputs per signature "
            "with quantization, op counts, tensor types, size, embedded metadata, and whether "
            "the weights match the hash stored at conversion. Exits 1 when they do not."
        ),
        run=_run,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--card", action="store_true", help="also print the embedded model card as Markdown"
    )
    return parser
