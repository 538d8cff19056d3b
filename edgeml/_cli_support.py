"""Shared pieces of the ``edgeml`` subcommands.

``edgeml inspect``, ``edgeml bench`` and ``edgeml serve`` each register a parser whose
first argument is the model's path and whose ``func`` runs the command;
:func:`add_model_command` does that part once.

:func:`quiet_third_party_logs` hides the start-up noise TensorFlow, absl, CUDA probing
and the LiteRT interpreter write straight to the process's standard error (file
descriptor 2, from C++, where no Python setting reaches). Only the ``edgeml`` command
installs it, for the duration of one command, unless ``--verbose`` is given; a library
user's process is never touched.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="edgeml")
>>> sub = add_model_command(
...     parser.add_subparsers(), "show", help="show a model", description="Show it.", run=print
... )
>>> args = parser.parse_args(["show", "model.tflite"])
>>> args.model
'model.tflite'
>>> args.func(args)  # the path is checked before the command runs
Traceback (most recent call last):
...
edgeml.errors.PathError: The 'model' argument of edgeml show must be ... which does not exist. ...
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["add_model_command", "is_noise", "quiet_third_party_logs"]

# Lines third-party native code writes to fd 2 that say nothing to an edgeml user.
_NOISE = re.compile(
    r"^(?:"
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"  # absl banner
    r"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "  # absl/glog INFO and WARNING
    r"|E\d{4} [\d:.]+\s+\d+ \S+:\d+\] "  # absl ERROR, only about GPUs:
    r".*(?:cuInit|CUDA|cuda|TensorRT|cuDNN|cuFFT|cuBLAS)"
    r"|INFO: (?:Created TensorFlow Lite|Initialized TensorFlow Lite)"  # LiteRT delegate lines
    r"|To enable the following instructions: .* rebuild TensorFlow"  # CPU feature guard
    r"|Could not find cuda drivers|Unable to register cu\w+ factory"
    r")"
)
_NOISY_LOGGERS = ("tensorflow", "absl", "h5py", "jax")


def is_noise(line: str) -> bool:
    """Return True for a line of third-party start-up noise that ``edgeml`` hides.

    Parameters
    ----------
    line : str
        One line as written to standard error.

    Returns
    -------
    bool
        Whether :func:`quiet_third_party_logs` drops it.

    Examples
    --------
    >>> is_noise("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    True
    >>> is_noise("edgeml: error: the model file does not exist")
    False
    """
    return _NOISE.match(line) is not None


class _StderrFilter:
    """Route fd 2 through a pipe; a thread forwards every line that is not noise."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._thread = threading.Thread(target=self._pump, args=(read_end,), daemon=True)
        self._thread.start()
        # A crash report written while the process dies would be lost in the pipe:
        # send Python's fault handler straight to the real standard error.
        self._faulthandler = not faulthandler.is_enabled()
        if self._faulthandler:
            faulthandler.enable(file=self._saved)

    def _pump(self, read_end: int) -> None:
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self._forward(lines)
        if pending:
            self._forward([pending], newline=False)

    def _forward(self, lines: list[bytes], *, newline: bool = True) -> None:
        try:
            kept = [line for line in lines if not is_noise(line.decode("utf-8", "replace"))]
        except Exception:  # never let the pump die: writers to fd 2 would block on it
            kept = lines
        if kept:
            data = b"\n".join(kept) + (b"\n" if newline else b"")
            with contextlib.suppress(OSError):
                os.write(self._saved, data)

    def close(self) -> None:
        if self._faulthandler:
            faulthandler.disable()
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes the pipe's last write end: the thread sees EOF
        self._thread.join(timeout=5)
        os.close(self._saved)


@contextlib.contextmanager
def quiet_third_party_logs() -> Iterator[None]:
    """Hide third-party start-up noise on standard error while the block runs.

    Native lines matching :func:`is_noise` are dropped (everything else, including
    edgeml's own messages and real errors, passes through), and the Python loggers of
    TensorFlow and absl are raised to ERROR. Both are restored on exit.

    Examples
    --------
    >>> with quiet_third_party_logs():
    ...     pass
    """
    loggers = {name: logging.getLogger(name) for name in _NOISY_LOGGERS}
    levels = {name: logger.level for name, logger in loggers.items()}
    for logger in loggers.values():
        logger.setLevel(logging.ERROR)
    try:
        redirect: _StderrFilter | None = _StderrFilter()
    except (OSError, ValueError):  # no fd 2 (e.g. a detached process): nothing to filter
        redirect = None
    try:
        yield
    finally:
        if redirect is not None:
            redirect.close()
        for name, logger in loggers.items():
            logger.setLevel(levels[name])


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
        Called with the parsed arguments; returns the exit code. ``func`` is set to a
        wrapper that first checks that the model path is a regular file.

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
    parser.set_defaults(func=_checking_the_model_path(name, run))
    return parser


def _checking_the_model_path(
    name: str, run: Callable[[argparse.Namespace], int | None]
) -> Callable[[argparse.Namespace], int | None]:
    """Wrap ``run`` so that a missing path, a folder or a FIFO is refused first.

    Reading a FIFO would block forever, and a folder or a missing path would fail deep
    inside the command; :func:`edgeml._io.checked_path` says which it is, in one line.
    """

    def checked(args: argparse.Namespace) -> int | None:
        from edgeml._io import checked_path

        checked_path(
            args.model,
            owner=f"edgeml {name}",
            argument="model",
            expected="an existing .tflite file",
        )
        return run(args)

    return checked
