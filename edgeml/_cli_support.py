"""Shared pieces of the ``edgeml`` subcommands that take a ``.tflite`` model.

``edgeml inspect``, ``edgeml bench`` and ``edgeml serve`` each register a parser whose
first argument is the model's path and whose ``func`` runs the command;
:func:`add_model_command` does that part once.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="edgeml")
>>> sub = add_model_command(
...     parser.add_subparsers(), "show", help="show a model", description="Show it.", run=print
... )
>>> args = parser.parse_args(["show", "model.tflite"])
>>> args.model, args.func is print
('model.tflite', True)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["add_model_command"]


def add_model_command(
    subparsers: Any,
    name: str,
    *,
    help: str,
    description: str,
    run: Callable[[argparse.Namespace], int | None],
) -> argparse.ArgumentParser:
    """Add a subcommand whose first argument is the path of a ``.tflite`` model.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned.
    name : str
        The subcommand, e.g. ``"inspect"``.
    help : str
        One line for ``edgeml --help``.
    description : str
        The paragraph shown by ``edgeml NAME --help``.
    run : callable
        Called with the parsed arguments; returns the exit code (set as ``func``).

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser, with the positional ``model`` argument; add the
        command's options to it.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=description
    )
    parser.add_argument("model", help="path of the .tflite model")
    parser.set_defaults(func=run)
    return parser
