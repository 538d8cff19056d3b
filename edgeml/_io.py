"""Atomic file writes: a reader never sees a half-written file.

Examples
--------
>>> import pathlib, tempfile
>>> from edgeml._io import atomic_write
>>> path = pathlib.Path(tempfile.mkdtemp()) / "hello.txt"
>>> atomic_write(path, "hi")
PosixPath('...hello.txt')
>>> path.read_text()
'hi'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int | None = None,
    exclusive: bool = False,
) -> Path:
    r"""Write ``data`` to ``path`` through a temporary file and :func:`os.replace`.

    The temporary file lives in the destination folder (so the rename stays on one file
    system), is flushed and fsynced before the rename, and is removed if anything fails.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    data : bytes or str
        Content; ``str`` is encoded as UTF-8.
    mode : int, optional
        Permission bits set on the temporary file before any byte is written (e.g.
        ``0o600`` for secrets), so the content is never readable with wider rights.
    exclusive : bool, default False
        Refuse to replace an existing file: the file is linked into place, which fails
        atomically with :class:`FileExistsError` if ``path`` exists.

    Returns
    -------
    pathlib.Path
        The destination path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "model.bin"
    >>> atomic_write(target, b"\x00\x01").stat().st_size
    2
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp_name, target)
        else:
            os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return target
