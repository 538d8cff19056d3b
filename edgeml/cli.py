"""The ``edgeml`` command.

Each subcommand lives in the layer it belongs to and is registered in
:data:`SUBCOMMANDS` as ``name -> "module"``; the module defines
``add_parser(subparsers) -> argparse.ArgumentParser`` whose parser sets ``func``.
Modules are imported only when their subcommand is listed or run, so ``edgeml --help``
stays fast and needs no TensorFlow.

:func:`main` is the one error boundary of the command: an edgeml error or an operating
system error on a file the user named prints one line ``edgeml: error: ...`` and exits
1; usage errors exit 2; output closed early (``edgeml inspect --json m.tflite | head``)
exits quietly. Third-party start-up noise is hidden unless ``--verbose`` is given.

Examples
--------
>>> from edgeml.cli import main
>>> main(["--version"])
edgeml 0.1.0.dev0
0
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from edgeml import __version__
from edgeml.errors import EdgeMLError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

VERBOSE_HELP = "show third-party logs (TensorFlow, absl, LiteRT) and edgeml's INFO messages"

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
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help=VERBOSE_HELP,
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        importlib.import_module(module).add_parser(subparsers)
    for command in subparsers.choices.values():  # `edgeml inspect m.tflite -v` works too
        flags = [f for f in ("-v", "--verbose") if f not in command._option_string_actions]
        if flags:  # a subcommand may define its own
            command.add_argument(
                *flags,
                dest="verbose",
                action="store_true",
                default=argparse.SUPPRESS,
                help=VERBOSE_HELP,
            )
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
        0 on success, 1 when an error was reported, 2 for usage errors (including no
        command at all), or the command's own code (``drift --fail-on-drift`` uses 3).

    Examples
    --------
    >>> main([])  # doctest: +SKIP
    usage: edgeml ...
    2
    >>> main(["--version"])
    edgeml 0.1.0.dev0
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(f"edgeml {__version__}")
        return 0
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return _run(func, args)
    from edgeml._cli_support import quiet_third_party_logs

    with quiet_third_party_logs():
        return _run(func, args)


def _run(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a subcommand inside the error boundary."""
    try:
        code = func(args)
        sys.stdout.flush()
        return 0 if code is None else int(code)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except EdgeMLError as exc:
        _say(str(exc))
        return 1
    except OSError as exc:  # a path the user named: missing, a folder, no permission, full
        _say(_os_error_message(exc))
        return 1


def _say(message: str) -> None:
    line = " ".join(message.split())  # one line, whatever the message holds
    print(f"edgeml: error: {line}", file=sys.stderr)


def _os_error_message(exc: OSError) -> str:
    from edgeml._io import describe_os_error

    problem, fix = describe_os_error(exc, writing=isinstance(exc, FileExistsError))
    if exc.filename is None:
        return f"{exc.strerror or exc}. Fix: {fix}."
    return f"{exc.filename} {problem}. Fix: {fix}."
