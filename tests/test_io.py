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

    class Boom(bytes):
        pass

    with pytest.raises(TypeError):
        atomic_write(target, object())  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.tflite"]
