from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgeml._io import atomic_write

pytestmark = pytest.mark.compat


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "model.tflite"
    atomic_write(target, b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["model.tflite"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "model.tflite"
    atomic_write(target, b"old")

    with pytest.raises(TypeError):
        atomic_write(target, object())  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.tflite"]


def test_mode_is_set_before_the_content_lands(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "secret.key", b"k", mode=0o600)
    assert target.stat().st_mode & 0o777 == 0o600


def test_exclusive_write_refuses_an_existing_file_and_leaves_it(tmp_path: Path) -> None:
    target = tmp_path / "secret.key"
    atomic_write(target, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["secret.key"]


# --- issue 15: orphans of killed writers, checked reads -----------------------------------
_CHILD = r"""
import os, sys
sys.path.insert(0, sys.argv[2])
from edgeml import _io

real_fsync = os.fsync
def fsync_then_wait(fd):
    real_fsync(fd)
    if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".model.tflite.edgeml-tmp-"):
        print("ready", flush=True)
        sys.stdin.read()  # blocks until the parent kills this process
_io.os.fsync = fsync_then_wait
_io.atomic_write(sys.argv[1], b"new" * 100_000)
"""


def _killed_writer(target: Path) -> None:
    """Start a real writer of ``target`` and kill -9 it after its temp file is complete."""
    import signal
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(target), str(Path(__file__).parents[1])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_writers_killed_mid_write_leave_findable_orphans_that_the_next_write_removes(
    tmp_path: Path,
) -> None:
    from edgeml._io import stale_temporaries

    target = tmp_path / "model.tflite"
    atomic_write(target, b"old")
    seen = set()
    for _ in range(3):
        _killed_writer(target)  # each writer first removes the orphan of the one before
        orphans = [p.name for p in tmp_path.iterdir() if p.name != "model.tflite"]
        assert len(orphans) == 1
        assert orphans[0].startswith(".model.tflite.edgeml-tmp-")
        assert [p.name for p in stale_temporaries(target)] == orphans
        assert target.read_bytes() == b"old"  # never half-written
        seen.add(orphans[0])
    assert len(seen) == 3
    (tmp_path / "other.bin").write_bytes(b"x")  # other files are left alone
    atomic_write(target, b"next")
    assert sorted(os.listdir(tmp_path)) == ["model.tflite", "other.bin"]
    assert target.read_bytes() == b"next"


def test_a_running_writers_temporary_file_is_never_stale(tmp_path: Path) -> None:
    from edgeml._io import stale_temporaries

    target = tmp_path / "m.bin"
    mine = tmp_path / f".m.bin.edgeml-tmp-{os.getpid()}-0000"
    mine.write_bytes(b"in progress")
    assert stale_temporaries(target) == []
    atomic_write(target, b"done")
    assert mine.exists()


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p / "missing.bin", "does not exist"),
        (lambda p: p, "is a folder"),
        (lambda p: (p / "file.txt").write_text("x") and p / "file.txt" / "below", "does not exist"),
        (lambda p: Path("/dev/null"), "not a regular file"),
    ],
)
def test_read_file_refuses_what_is_not_a_readable_regular_file(
    tmp_path: Path, make: object, problem: str
) -> None:
    from edgeml._io import read_file
    from edgeml.errors import PathError

    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(PathError, match=problem) as info:
        read_file(path, owner="load_key")
    assert isinstance(info.value, OSError)
    assert "'path' argument of load_key" in str(info.value)
    assert info.value.filename == str(path)


def test_read_file_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    from edgeml._io import read_file
    from edgeml.errors import PathError

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(PathError, match="FIFO"):
        read_file(fifo, owner="load_key")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_read_file_reports_permission_denied(tmp_path: Path) -> None:
    from edgeml._io import read_file
    from edgeml.errors import PathError

    secret = tmp_path / "k.pem"
    secret.write_text("x")
    secret.chmod(0)
    with pytest.raises(PathError, match="permission denied"):
        read_file(secret, owner="load_key")


def test_read_file_limits_size_and_checks_the_argument_type(tmp_path: Path) -> None:
    from edgeml._io import read_file
    from edgeml.errors import ConfigError, PathError

    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 11)
    assert read_file(big, owner="t", max_bytes=11) == b"x" * 11
    with pytest.raises(PathError, match="at most 10 bytes"):
        read_file(big, owner="t", max_bytes=10)
    with pytest.raises(ConfigError):
        read_file(None, owner="t")
    with pytest.raises(ConfigError, match="NUL"):
        read_file("a\0b", owner="t")


def test_write_errors_say_why(tmp_path: Path) -> None:
    from edgeml._io import path_error
    from edgeml.errors import PathError

    with pytest.raises(FileNotFoundError) as info:
        atomic_write(tmp_path / "no" / "such" / "folder.bin", b"x")
    err = path_error("demo", "out", tmp_path / "no", info.value, "a writable folder")
    assert isinstance(err, PathError)
    assert "does not exist" in str(err)
    full = path_error("demo", "out", "x", OSError(28, "No space left on device"), "a folder")
    assert "disk is full" in str(full)
    assert "free some space" in str(full)


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_atomic_write_never_replaces_a_folder_or_a_special_file(tmp_path: Path, kind: str) -> None:
    from edgeml.errors import PathError

    target = tmp_path / "target"
    if kind == "folder":
        target.mkdir()
    else:
        os.mkfifo(target)
    with pytest.raises(PathError, match="not a file"):
        atomic_write(target, b"x")
    assert target.is_dir() if kind == "folder" else target.is_fifo()
    assert os.listdir(tmp_path) == ["target"]


def test_load_array_file_refuses_a_header_declaring_more_than_the_file_holds(
    tmp_path: Path,
) -> None:
    import io
    import zipfile

    import numpy as np
    from numpy.lib import format as npy_format

    from edgeml._io import load_array_file
    from edgeml.errors import DataError

    buffer = io.BytesIO()  # numpy's own header writer: 2**40 float64 values, 64 bytes follow
    npy_format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)}
    )
    bomb = buffer.getvalue() + b"\0" * 64
    (tmp_path / "bomb.npy").write_bytes(bomb)
    with pytest.raises(DataError, match=r"declares 8796093022208 bytes.*Fix:"):
        load_array_file(tmp_path / "bomb.npy", name="bomb")
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w") as archive:  # numpy reads by content
        archive.writestr("x.npy", bomb)
    with pytest.raises(DataError, match=r"x\.npy: the header declares"):
        load_array_file(tmp_path / "bomb.npz", name="bomb")
    np.savez(tmp_path / "ok.npz", x=np.arange(4.0))
    with load_array_file(tmp_path / "ok.npz", name="ok") as archive:
        assert archive["x"].tolist() == [0.0, 1.0, 2.0, 3.0]
