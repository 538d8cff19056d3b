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
