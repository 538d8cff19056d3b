"""Quiet TensorFlow's log noise for the duration of one edgeml call, then restore it.

The converter writes to the process's stdout/stderr from C++ (MLIR passes, absl
warnings) and from Python ("Saved artifact at ..." from Keras export). Inside
:func:`quiet_tensorflow` both descriptors are captured and what was written is
re-emitted on the ``edgeml.conversion`` logger at DEBUG level, so nothing is lost but
nothing is shown unless asked for. Python warnings are silenced the same way. Outside an
edgeml call TensorFlow's logging is exactly what the user configured.

edgeml's own log records emitted during the block (calibration progress) go through
:func:`passthrough`, which reconnects the real descriptors for the duration of the call.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import IO

__all__ = ["passthrough", "quiet_tensorflow"]

logger = logging.getLogger("edgeml.conversion")

# Saved (fd, duplicate of the real target) pairs of the active capture, innermost last.
_ACTIVE: list[tuple[int, int]] = []
# The Python-level streams replaced by the active capture, innermost last.
_STREAMS: list[tuple[object, object]] = []


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


@contextlib.contextmanager
def _captured(fd: int, sink: IO[bytes]) -> Iterator[None]:
    _flush_std()
    try:
        saved = os.dup(fd)
    except OSError:  # no such descriptor (embedded interpreters): nothing to capture
        yield
        return
    os.dup2(sink.fileno(), fd)
    _ACTIVE.append((fd, saved))
    try:
        yield
    finally:
        _flush_std()
        _ACTIVE.remove((fd, saved))
        os.dup2(saved, fd)
        os.close(saved)


@contextlib.contextmanager
def passthrough() -> Iterator[None]:
    """Temporarily reconnect stdout/stderr captured by :func:`quiet_tensorflow`.

    Yields
    ------
    None
        Inside the block, writes reach the user's terminal (or log handler) again.
    """
    active = list(_ACTIVE)
    if not active:
        yield
        return
    _flush_std()
    captured = [(fd, os.dup(fd)) for fd, _ in active]
    replaced = (sys.stdout, sys.stderr)
    if _STREAMS:
        sys.stdout, sys.stderr = _STREAMS[0]  # type: ignore[assignment]
    for fd, real in active:
        os.dup2(real, fd)
    try:
        yield
    finally:
        _flush_std()
        sys.stdout, sys.stderr = replaced
        for fd, sink in captured:
            os.dup2(sink, fd)
            os.close(sink)


@contextlib.contextmanager
def quiet_tensorflow() -> Iterator[None]:
    """Capture TensorFlow's console output and Python warnings for the enclosed block.

    Yields
    ------
    None
        The block runs with stdout/stderr redirected to the ``edgeml.conversion``
        debug log.
    """
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        with (
            tempfile.TemporaryFile() as out_sink,
            tempfile.TemporaryFile() as err_sink,
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            python_out, python_err = io.StringIO(), io.StringIO()
            _STREAMS.append((sys.stdout, sys.stderr))
            try:
                with (
                    _captured(1, out_sink),
                    _captured(2, err_sink),
                    contextlib.redirect_stdout(python_out),
                    contextlib.redirect_stderr(python_err),
                ):
                    yield
            finally:
                _STREAMS.pop()
                texts = [python_out.getvalue(), python_err.getvalue()]
                for sink in (out_sink, err_sink):
                    sink.seek(0)
                    texts.append(sink.read().decode("utf-8", "replace"))
                text = "\n".join(t.strip() for t in texts if t.strip())
                if text:
                    logger.debug("TensorFlow output:\n%s", text)
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)
