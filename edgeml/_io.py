"""Files edgeml reads and writes for its callers: checked reads and atomic writes.

:func:`read_file` refuses what is not a regular, readable file (missing paths, folders,
FIFOs, devices) with a :class:`~edgeml.errors.PathError` that names the argument, instead
of an ``OSError`` from deep inside, or a read that blocks forever on a FIFO.

:func:`atomic_write` writes through a temporary file in the destination folder and
:func:`os.replace`, so a reader never sees a half-written file. The temporary file is
named ``.<name>.edgeml-tmp-<pid>-<random>``: if a writer is killed (``kill -9``, power
loss) its temporary file stays behind, and the next write to the same destination removes
every such file whose process is gone. After the rename the folder is fsynced, so the
new name survives a crash too.

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

import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from edgeml.errors import PathError

__all__ = [
    "array_file_fits",
    "atomic_write",
    "checked_path",
    "describe_os_error",
    "load_array_file",
    "npy_fits",
    "path_error",
    "read_file",
    "stale_temporaries",
]

_TMP_MARK = ".edgeml-tmp-"


def _describe(exc: OSError, writing: bool) -> str:
    if isinstance(exc, FileExistsError):
        return "already exists (and is not what was expected there)"
    if isinstance(exc, FileNotFoundError):
        return "is in a folder that does not exist" if writing else "does not exist"
    if isinstance(exc, NotADirectoryError):
        return "does not exist (a part of it is a file, not a folder)"
    if isinstance(exc, IsADirectoryError):
        return "is a folder"
    if isinstance(exc, PermissionError):
        return "cannot be accessed (permission denied)"
    if exc.errno == errno.ENOSPC:
        return "cannot be written: the disk is full"
    if exc.errno == errno.EROFS:
        return "cannot be written: the file system is read-only"
    return f"cannot be accessed ({exc.strerror or exc})"


def describe_os_error(exc: OSError, *, writing: bool = False) -> tuple[str, str]:
    """Return ``(problem, fix)`` phrases for an ``OSError`` met on a caller's path.

    Examples
    --------
    >>> describe_os_error(IsADirectoryError(21, "Is a directory"))
    ('is a folder', 'check the path')
    """
    problem = _describe(exc, writing)
    if exc.errno == errno.ENOSPC:
        fix = "free some space or write elsewhere"
    elif writing and isinstance(exc, FileNotFoundError):
        fix = "create the folder first"
    elif isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        fix = "choose a location you can write to, or change its permissions"
    else:
        fix = "check the path"
    return problem, fix


def path_error(
    owner: str,
    argument: str,
    path: object,
    exc: OSError,
    expected: str,
    *,
    writing: bool = False,
) -> PathError:
    """Build the :class:`PathError` for an ``OSError`` met on a caller's path.

    Parameters
    ----------
    owner, argument : str
        The function and its argument, as in :func:`edgeml.errors.invalid_argument`.
    path : object
        The path the caller gave.
    exc : OSError
        What the operating system said.
    expected : str
        What the path must be, phrased to follow "must be".
    writing : bool, default False
        The path was being written (a missing path then means a missing folder).

    Returns
    -------
    PathError
        With ``errno`` and ``filename`` copied from ``exc``.

    Examples
    --------
    >>> err = path_error("load_key", "path", "k.pem", FileNotFoundError(2, "x"), "a key file")
    >>> print(err)
    The 'path' argument of load_key must be a key file. Got 'k.pem', which does not exist. Fix: check the path.
    """  # noqa: E501
    problem, fix = describe_os_error(exc, writing=writing)
    message = (
        f"The {argument!r} argument of {owner} must be {expected}. Got {str(path)!r}, "
        f"which {problem}. Fix: {fix}."
    )
    return PathError(exc.errno or errno.EIO, message, str(path))


def read_file(
    path: object,
    *,
    owner: str,
    argument: str = "path",
    expected: str = "an existing, readable file",
    max_bytes: int | None = None,
) -> bytes:
    """Read a caller's file, refusing folders, FIFOs, devices and unreadable paths.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    owner, argument : str
        The function and its argument (for the message).
    expected : str, default "an existing, readable file"
        What the path must be, phrased to follow "must be".
    max_bytes : int, optional
        Refuse larger files (before reading them).

    Returns
    -------
    bytes
        The content.

    Raises
    ------
    PathError
        For a path that does not exist, is not a regular file, cannot be read, or is
        larger than ``max_bytes``.
    ConfigError
        When ``path`` is not a str or os.PathLike.

    Examples
    --------
    >>> read_file("/no/such/file", owner="demo")
    Traceback (most recent call last):
    ...
    edgeml.errors.PathError: The 'path' argument of demo must be an existing, readable file. Got '/no/such/file', which does not exist. Fix: check the path.
    """  # noqa: E501
    target = checked_path(
        path, owner=owner, argument=argument, expected=expected, max_bytes=max_bytes
    )
    try:
        return target.read_bytes()
    except OSError as exc:
        raise path_error(owner, argument, target, exc, expected) from None


def checked_path(
    path: object,
    *,
    owner: str,
    argument: str = "path",
    expected: str = "an existing, readable file",
    max_bytes: int | None = None,
) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` once it is known to be a regular file.

    The checks of :func:`read_file` without the read, for readers that take a path
    (``numpy.load``, ``csv``); their own ``OSError`` is still theirs to handle.

    Examples
    --------
    >>> checked_path("/", owner="demo")
    Traceback (most recent call last):
    ...
    edgeml.errors.PathError: The 'path' argument of demo must be an existing, readable file. Got '/', which is a folder. Fix: check the path.
    """  # noqa: E501
    from edgeml.errors import invalid_argument

    if not isinstance(path, (str, os.PathLike)):
        raise invalid_argument(owner, argument, path, "a path (str or os.PathLike)")
    target = Path(path)
    try:
        info = target.stat()
    except ValueError as exc:  # embedded NUL byte in the path
        raise invalid_argument(owner, argument, str(path), "a path without NUL bytes") from exc
    except OSError as exc:
        raise path_error(owner, argument, target, exc, expected) from None
    if stat.S_ISDIR(info.st_mode):
        raise path_error(
            owner, argument, target, IsADirectoryError(errno.EISDIR, "is a folder"), expected
        )
    if not stat.S_ISREG(info.st_mode):
        raise PathError(
            errno.EINVAL,
            f"The {argument!r} argument of {owner} must be {expected}. Got {str(target)!r}, "
            "which is not a regular file (a device, FIFO or socket). Fix: pass a regular file.",
            str(target),
        )
    if max_bytes is not None and info.st_size > max_bytes:
        raise PathError(
            errno.EFBIG,
            f"The {argument!r} argument of {owner} must be {expected} of at most "
            f"{max_bytes:,} bytes. Got {str(target)!r}, which has {info.st_size:,}. "
            "Fix: check that this is the right file.",
            str(target),
        )
    return target


def npy_fits(head: bytes, available: int) -> str | None:
    """Check that a ``.npy`` header declares no more data than ``available`` bytes hold.

    ``numpy.load`` allocates the array its header declares before reading the data, so a
    100-byte file declaring a terabyte array asks for a terabyte. Call this first.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (at least the header; 64 KiB is plenty).
    available : int
        The size of the whole file or body.

    Returns
    -------
    str or None
        Why the header is refused, or None when it is readable and fits. Headers that
        numpy cannot parse are left to ``numpy.load`` (which then raises ValueError).

    Examples
    --------
    >>> import io, numpy as np
    >>> buffer = io.BytesIO(); np.save(buffer, np.zeros(3)); body = buffer.getvalue()
    >>> npy_fits(body, len(body)) is None
    True
    >>> npy_fits(body, len(body) - 1)
    'the header declares 24 bytes of data but only 23 follow it'
    """
    import io

    import numpy as np
    from numpy.lib import format as npy_format

    stream = io.BytesIO(head)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(stream)
        else:
            return None
    except Exception:  # not a .npy header numpy understands: numpy.load reports it
        return None
    if dtype.hasobject:
        return None  # refused by allow_pickle=False anyway
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    following = available - stream.tell()
    if declared > following:
        return f"the header declares {declared} bytes of data but only {following} follow it"
    return None


def array_file_fits(path: str | os.PathLike[str]) -> str | None:
    """Check a ``.npy`` file, or every array of a ``.npz`` archive, with :func:`npy_fits`.

    ``numpy.load`` decides by the file's first bytes, not its name, so this does too. For
    an archive each member's header is read from its first 64 KiB (decompressing no more)
    and compared with the member's stated size.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    str or None
        Why the file is refused, or None.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "arrays.npz"
    >>> np.savez(target, x=np.zeros(3))
    >>> array_file_fits(target) is None
    True
    """
    import zipfile

    target = Path(path)
    with target.open("rb") as handle:
        head = handle.read(65536)
    if not head.startswith(b"PK"):
        return npy_fits(head, target.stat().st_size)
    try:
        with zipfile.ZipFile(target) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    problem = npy_fits(member.read(65536), info.file_size)
                if problem is not None:
                    return f"{info.filename}: {problem}"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
        return None  # a damaged archive: numpy.load reports it
    return None


def load_array_file(path: str | os.PathLike[str], *, name: str) -> Any:
    """``numpy.load`` (no pickles) once :func:`array_file_fits` accepts the file.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` or ``.npz`` file.
    name : str
        How error messages name the file.

    Returns
    -------
    numpy.ndarray or numpy.lib.npyio.NpzFile
        What ``numpy.load`` returns; the caller closes an archive.

    Raises
    ------
    DataError
        When a header declares more data than the file holds.
    OSError, ValueError, EOFError, zipfile.BadZipFile
        From ``numpy.load``, for the caller to word.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> np.save(target, np.arange(3))
    >>> load_array_file(target, name="x").tolist()
    [0, 1, 2]
    """
    import numpy as np

    from edgeml.errors import DataError

    problem = array_file_fits(path)  # np.load allocates what a header declares
    if problem is not None:
        raise DataError(f"Cannot read {name}: {problem}. Fix: write it again.")
    return np.load(Path(path), allow_pickle=False)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":
        return True  # elsewhere os.kill(pid, 0) would terminate the process: keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


def stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Return the temporary files left by killed writers of ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        A destination written with :func:`atomic_write`.

    Returns
    -------
    list of pathlib.Path
        Files named ``.<name>.edgeml-tmp-<pid>-<random>`` in its folder whose process
        no longer runs (a running writer's file is never listed).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".model.tflite.edgeml-tmp-999999999-abcd").write_bytes(b"half")
    >>> [p.name for p in stale_temporaries(folder / "model.tflite")]
    ['.model.tflite.edgeml-tmp-999999999-abcd']
    """
    target = Path(path)
    prefix = f".{target.name}{_TMP_MARK}"
    stale = []
    try:
        candidates = [p for p in target.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return []
    for candidate in candidates:
        pid_text = candidate.name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            stale.append(candidate)
    return sorted(stale)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders; the rename itself is done
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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

    Raises
    ------
    PathError
        When ``path`` is a folder, a device, a FIFO or a socket (a rename would replace
        the device node rather than write to it).

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
    try:
        mode_now = os.lstat(target).st_mode
    except OSError:
        mode_now = None
    if mode_now is not None and not (stat.S_ISREG(mode_now) or stat.S_ISLNK(mode_now)):
        # the rename would silently replace a device node, FIFO or socket
        problem = "a folder" if stat.S_ISDIR(mode_now) else "a device, FIFO or socket"
        raise PathError(
            errno.EEXIST,
            f"Cannot write {str(target)!r}: it is {problem}, not a file. Fix: choose a file path.",
            str(target),
        )
    for orphan in stale_temporaries(target):
        orphan.unlink(missing_ok=True)
    tmp = target.parent / f".{target.name}{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # the umask may have narrowed what os.open set
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, target)
        else:
            os.replace(tmp, target)
        _fsync_folder(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return target
