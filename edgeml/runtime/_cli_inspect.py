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
from edgeml.errors import EdgeMLError

__all__ = ["add_parser", "card_summary"]


def _run(args: argparse.Namespace) -> int:
    # Deferred: `edgeml --help` builds every parser and must not load numpy and friends.
    from edgeml.runtime._inspect import inspect_model

    info = inspect_model(args.model)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        print(info.to_text())
        print()
        print(_card_text(args.model, args.card))
    return 0 if info.integrity.ok else 1


def _card_text(model: Any, full: bool) -> str:
    """Describe the embedded card: a short summary, or all of it as Markdown (``--card``)."""
    # Deferred like inspect_model above: the card package loads only when printing.
    from edgeml.card import read_card

    try:
        card = read_card(model)
    except EdgeMLError as exc:
        return f"model card: unreadable ({exc})"
    if card is None:
        return "model card: none embedded (add one with edgeml.card.embed_card)"
    if full:
        return card.to_markdown()
    return card_summary(card.to_dict())


def card_summary(card: dict[str, Any]) -> str:
    """Summarize a card document in a few lines: owner, privacy guarantee, quantization.

    Examples
    --------
    >>> print(card_summary({"name": "digits", "owner": "edge team",
    ...                     "privacy": {"epsilon": 2.9512, "delta": 1e-5, "accountant": "rdp"},
    ...                     "conversion": {"mode": "int8", "io": "int8"}}))
    model card: digits (owner: edge team); the full card: edgeml inspect MODEL --card
      privacy: epsilon 2.951, delta 1e-05, accountant rdp
      quantization: int8 (inputs/outputs int8)
    """
    title = " ".join(str(card[k]) for k in ("name", "version") if card.get(k))
    lines = [
        f"model card: {title or '(unnamed)'} (owner: {card.get('owner') or 'not recorded'}); "
        "the full card: edgeml inspect MODEL --card"
    ]
    privacy = card.get("privacy")
    if isinstance(privacy, dict):
        epsilon = privacy.get("epsilon")
        shown = f"{epsilon:.4g}" if isinstance(epsilon, (int, float)) else "unbounded"
        lines.append(
            f"  privacy: epsilon {shown}, delta {privacy.get('delta')}, "
            f"accountant {privacy.get('accountant', 'not recorded')}"
        )
    else:
        lines.append("  privacy: no differential-privacy guarantee recorded")
    conversion = card.get("conversion")
    if isinstance(conversion, dict):
        lines.append(
            f"  quantization: {conversion.get('mode', 'unknown')} "
            f"(inputs/outputs {conversion.get('io', 'unknown')})"
        )
    else:
        lines.append("  quantization: not recorded")
    return "\n".join(lines)


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
        "--card",
        action="store_true",
        help="print the whole embedded model card as Markdown (default: a short summary)",
    )
    return parser
