"""Reading a ``.tflite`` flatbuffer safely: the schema, the bytes, entries and buffers.

The schema comes from ``ai-edge-litert`` (its generated ``schema_py_generated`` and
``tools.flatbuffer_utils``, 0.06 s to import, no interpreter), or TensorFlow's copy when
only TensorFlow is installed. Every accessor error becomes a
:class:`~edgeml.errors.ModelFormatError`, so damaged bytes never escape as a plain
``IndexError`` or ``UnicodeDecodeError``.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from edgeml._optional import is_available, require
from edgeml.errors import ConfigError, ModelFormatError, invalid_argument

__all__ = [
    "ModelSource",
    "buffer_bytes",
    "check_identifier",
    "decode_name",
    "entries",
    "flatbuffer_utils",
    "model_bytes",
    "parsing",
    "read_model_file",
    "root",
]

FILE_IDENTIFIER = b"TFL3"

ModelSource = bytes | bytearray | memoryview | str | os.PathLike[str]


def flatbuffer_utils() -> ModuleType:
    """Return LiteRT's flatbuffer utilities, or TensorFlow's when only TF is installed."""
    if not is_available("ai_edge_litert") and is_available("tensorflow"):
        # Only in an environment without LiteRT, where TensorFlow is there anyway.
        return require(
            "tensorflow.lite.tools.flatbuffer_utils",
            extra="tf",
            feature="Reading and writing .tflite metadata",
        )
    return require(
        "ai_edge_litert.tools.flatbuffer_utils",
        extra="litert",
        feature="Reading and writing .tflite metadata",
    )


def read_model_file(path: str | os.PathLike[str], owner: str) -> bytes:
    """Read a model file, refusing what is not a readable regular file with a clear error.

    A FIFO would block forever and ``/dev/null`` reads as zero bytes, so anything but a
    regular file is refused before it is opened; ``OSError`` on open or read (no
    permission, I/O error) becomes :class:`~edgeml.errors.ConfigError`.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    owner : str
        The public function reading it, named in the error message.

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    ConfigError
        When the path does not exist, is a directory, a device, a FIFO or a socket, or
        cannot be read.

    Examples
    --------
    >>> read_model_file("/dev/null", "load")
    Traceback (most recent call last):
    ...
    edgeml.errors.ConfigError: The 'model' argument of load must be a readable .tflite file. Got '/dev/null', which is a character device, not a regular file. Fix: pass the path of a .tflite file you can read, or its bytes.
    """  # noqa: E501
    text = os.fspath(path)
    try:
        mode = os.stat(text).st_mode
    except FileNotFoundError:
        problem = "does not exist"
    except OSError as exc:
        problem = f"cannot be examined ({type(exc).__name__}: {exc.strerror or exc})"
    else:
        if stat.S_ISREG(mode):
            try:
                return Path(text).read_bytes()
            except OSError as exc:
                problem = f"cannot be read ({type(exc).__name__}: {exc.strerror or exc})"
        elif stat.S_ISDIR(mode):
            problem = "is a directory"
        else:
            kind = (
                "a FIFO (named pipe)"
                if stat.S_ISFIFO(mode)
                else "a character device"
                if stat.S_ISCHR(mode)
                else "a block device"
                if stat.S_ISBLK(mode)
                else "a socket"
                if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            problem = f"is {kind}, not a regular file"
    raise ConfigError(
        f"The 'model' argument of {owner} must be a readable .tflite file. Got {text!r}, "
        f"which {problem}. Fix: pass the path of a .tflite file you can read, or its bytes."
    )


def model_bytes(model: object, owner: str) -> bytes:
    """Return the model's bytes from bytes-like content or a file path."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        return read_model_file(model, owner)
    raise invalid_argument(
        owner,
        "model",
        model,
        "the bytes of a .tflite model or the path of a .tflite file",
        fix="pass TFLiteModel.bytes or a file path",
    )


def check_identifier(content: bytes) -> None:
    """Raise :class:`ModelFormatError` unless ``content`` has the TFLite file identifier."""
    if len(content) < 8 or content[4:8] != FILE_IDENTIFIER:
        raise ModelFormatError(
            f"These {len(content)} bytes are not a TFLite model: the flatbuffer file "
            f"identifier {FILE_IDENTIFIER!r} is missing at bytes 4-8. "
            "Fix: pass the bytes of a .tflite file written by a TFLite converter."
        )


def root(content: bytes) -> Any:
    """Return the flatbuffer accessor for ``content`` after checking the identifier."""
    check_identifier(content)
    schema = flatbuffer_utils().schema_fb
    return schema.Model.GetRootAs(content, 0)


def decode_name(name: bytes | str | None) -> str:
    """Decode a flatbuffer string; bytes that are not UTF-8 are replaced, never raised."""
    if isinstance(name, bytes):
        return name.decode("utf-8", "replace")
    return name or ""


def entries(model_root: Any) -> list[tuple[str, int]]:
    """Return ``(name, buffer index)`` for every metadata entry."""
    found = []
    for i in range(model_root.MetadataLength()):
        entry = model_root.Metadata(i)
        found.append((decode_name(entry.Name()), int(entry.Buffer())))
    return found


def buffer_bytes(model_root: Any, content: bytes, index: int) -> bytes:
    """Return the bytes of buffer ``index``, inline or stored after the flatbuffer."""
    buffer = model_root.Buffers(index)
    if buffer.DataLength():
        return bytes(buffer.DataAsNumpy().tobytes())
    offset, size = int(buffer.Offset()), int(buffer.Size())
    if offset > 1:
        if offset + size > len(content):
            raise ModelFormatError(
                f"Buffer {index} points past the end of the model "
                f"(offset {offset} + size {size} > {len(content)} bytes)."
            )
        return content[offset : offset + size]
    return b""


@contextlib.contextmanager
def parsing() -> Iterator[None]:
    """Turn any error the flatbuffer accessors raise into a :class:`ModelFormatError`."""
    try:
        yield
    except (ModelFormatError, ConfigError):
        raise
    except Exception as exc:
        raise ModelFormatError(
            "The model's flatbuffer structure is corrupted and cannot be parsed "
            f"({type(exc).__name__}: {exc}). Fix: re-export or re-download the model."
        ) from exc
