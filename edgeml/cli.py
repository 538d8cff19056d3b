"""The ``edgeml`` command.

Each subcommand lives in the layer it belongs to and is registered in
:data:`SUBCOMMANDS` as ``name -> "module"``; the module defines
``add_parser(subparsers) -> argparse.ArgumentParser`` whose parser sets ``func``.
Modules are imported only when their subcommand is listed or run, so ``edgeml --help``
stays fast and needs no TensorFlow.

Examples
--------
>>> from edgeml.cli import main
>>> main(["--version"])
edgeml 0.1.0.dev0
0
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from edgeml import __version__
from edgeml.errors import EdgeMLError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: Subcommand name -> module that defines ``add_parser``.
SUBCOMMANDS: dict[str, str] = {
    "demo": "edgeml.demo",
    "bench": "edgeml.runtime._cli_bench",
    "drift": "edgeml.drift._cli",
    "inspect": "edgeml.runtime._cli_inspect",
    "serve": "edgeml.monitor._cli",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered subcommand.

    Returns
    -------
    argparse.ArgumentParser
        The parser for ``edgeml``.

    Examples
    --------
    >>> build_parser().prog
    'edgeml'
    """
    parser = argparse.ArgumentParser(
        prog="edgeml",
        description=(
            "Privacy-aware edge machine learning: minimize data, train with differential "
            "privacy, quantize to LiteRT, run safely, watch for drift."
        ),
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when an edgeml error was reported, 2 for usage errors.

    Examples
    --------
    >>> main([])  # doctest: +ELLIPSIS
    usage: edgeml ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(f"edgeml {__version__}")
        return 0
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stdout)
        return 0
    try:
        return int(func(args))
    except EdgeMLError as exc:
        print(f"edgeml: error: {exc}", file=sys.stderr)
        return 1
