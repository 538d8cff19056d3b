from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgeml
from edgeml.cli import main

pytestmark = pytest.mark.compat


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"edgeml {edgeml.__version__}"


def test_python_dash_m_runs_the_same_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "edgeml", "--help"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("usage: edgeml")


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


# --- issue 15/16: one error boundary, quiet third-party logs --------------------------------
def _tiny_model(tmp_path: Path) -> Path:
    from edgeml.conversion.metadata import _tiny_model_for_examples

    path = tmp_path / "tiny.tflite"
    path.write_bytes(_tiny_model_for_examples())
    return path


def _edgeml(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgeml", *args],
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("edgeml: error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_no_command_prints_help_to_stderr_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: edgeml")


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: str(p / "missing.tflite"), "No such file"),
        (lambda p: str(p), "Is a directory"),
    ],
)
def test_inspect_on_a_path_that_is_no_model_prints_one_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, problem: str
) -> None:
    assert main(["inspect", make(tmp_path)]) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert problem.lower() in line.lower() or "folder" in line or "does not exist" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_inspect_on_an_unreadable_file_prints_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _tiny_model(tmp_path)
    model.chmod(0)
    assert main(["inspect", str(model)]) == 1
    assert "ermission" in _one_line_error(capsys.readouterr().err)


def test_inspect_json_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    model = _tiny_model(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-m", "edgeml", "inspect", "--json", str(model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    child.stdout.close()  # like `| head` that has read enough
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=300) == 1
    assert "Traceback" not in stderr
    assert "BrokenPipe" not in stderr


def test_drift_output_into_a_missing_folder_prints_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "t.npy"
    np.save(table, np.arange(40.0).reshape(20, 2))
    out = tmp_path / "missing" / "report.md"
    assert main(["drift", str(table), str(table), "--output", str(out)]) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert "folder that does not exist" in line
    assert not out.parent.exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (lambda p: np.save(p, np.array([{"a": 1}, None], dtype=object)), "Object arrays"),
        (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr'"), "EOF"),
        (lambda p: p.write_bytes(b""), "EOF"),
        (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00" + b"\xff" * 40), "Cannot read"),
    ],
)
def test_drift_on_a_corrupt_or_object_npy_prints_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: Any, problem: str
) -> None:
    bad = tmp_path / "bad.npy"
    content(bad)
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((10, 2)))
    assert main(["drift", str(bad), str(good)]) == 1
    assert problem in _one_line_error(capsys.readouterr().err)


def test_demo_refuses_a_negative_seed_and_an_existing_file_as_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--seed", "-1", "--out", str(tmp_path / "d")]) == 1
    assert "'seed'" in _one_line_error(capsys.readouterr().err)
    existing = tmp_path / "a-file"
    existing.write_text("keep me")
    assert main(["demo", "--quick", "--out", str(existing)]) == 1
    assert "already exists" in _one_line_error(capsys.readouterr().err)
    assert existing.read_text() == "keep me"
    # /proc refuses new folders even for root (tests may run as root)
    assert main(["demo", "--quick", "--out", "/proc/edgeml-demo"]) == 1
    _one_line_error(capsys.readouterr().err)


# Lines recorded from `edgeml demo` on TensorFlow 2.21 / ai-edge-litert 2.3 (this machine).
RECORDED_NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796398957.050908   29050 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results due to floating-point round-off errors.",
    "I0000 00:00:1796398957.051270   29050 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "I0000 00:00:1796398957.145000   29050 cpu_feature_guard.cc:227] This TensorFlow binary "
    "is optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1796398965.388657   29050 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]


def test_recorded_third_party_noise_is_recognised_and_real_messages_are_not() -> None:
    from edgeml._cli_support import is_noise

    assert all(is_noise(line) for line in RECORDED_NOISE)
    for line in (
        "edgeml: error: model.tflite does not exist. Fix: check the path.",
        "WARNING:edgeml.privacy:Stopping training early",
        "E0000 00:00:1796398965.388657   29050 interpreter.cc:52] Node 3 failed to invoke",
        "Traceback (most recent call last):",
    ):
        assert not is_noise(line), line


def test_cli_hides_the_interpreter_info_line_unless_verbose(tmp_path: Path) -> None:
    model = _tiny_model(tmp_path)
    quiet = _edgeml("inspect", str(model))
    loud = _edgeml("--verbose", "inspect", str(model))
    assert quiet.returncode == loud.returncode
    assert quiet.stdout == loud.stdout
    noisy = [line for line in loud.stderr.splitlines() if "XNNPACK" in line]
    assert noisy, "the interpreter no longer prints its INFO line; update RECORDED_NOISE"
    assert "XNNPACK" not in quiet.stderr


def test_quieting_restores_the_process_state() -> None:
    import logging

    from edgeml._cli_support import quiet_third_party_logs

    before_fd = os.fstat(2)
    logging.getLogger("tensorflow").setLevel(logging.DEBUG)
    with quiet_third_party_logs():
        assert logging.getLogger("tensorflow").level == logging.ERROR
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert logging.getLogger("tensorflow").level == logging.DEBUG
    after_fd = os.fstat(2)
    assert (before_fd.st_dev, before_fd.st_ino) == (after_fd.st_dev, after_fd.st_ino)
    logging.getLogger("tensorflow").setLevel(logging.NOTSET)


def test_a_crash_report_still_reaches_the_real_stderr_while_noise_is_filtered() -> None:
    code = (
        "import ctypes\n"
        "from edgeml._cli_support import quiet_third_party_logs\n"
        "with quiet_third_party_logs():\n"
        "    ctypes.string_at(0)\n"  # a real segmentation fault
    )
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert child.returncode < 0
    assert "Fatal Python error" in child.stderr


@pytest.mark.parametrize("command", ["inspect", "bench", "serve"])
def test_model_commands_refuse_a_fifo_instead_of_blocking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    assert main([command, str(fifo)]) == 1
    assert "FIFO" in _one_line_error(capsys.readouterr().err)


def test_verbose_is_accepted_before_or_after_the_command() -> None:
    from edgeml.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["-v", "inspect", "m.tflite"]).verbose is True
    assert parser.parse_args(["inspect", "m.tflite", "--verbose"]).verbose is True
    assert parser.parse_args(["inspect", "m.tflite"]).verbose is False


def test_drift_refuses_an_npy_declaring_more_than_it_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from numpy.lib import format as npy_format

    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)}
    )
    bomb = tmp_path / "bomb.npy"
    bomb.write_bytes(buffer.getvalue() + b"\0" * 8)
    good = tmp_path / "good.npy"
    np.save(good, np.zeros(10))
    assert main(["drift", str(bomb), str(good)]) == 1
    assert "declares" in _one_line_error(capsys.readouterr().err)


def test_drift_refuses_an_npz_member_declaring_more_than_it_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The .npy check, inside an archive: numpy.load of the member would allocate 8 TiB.
    import io
    import zipfile

    from numpy.lib import format as npy_format

    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)}
    )
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w") as archive:
        archive.writestr("x.npy", buffer.getvalue() + b"\0" * 8)
    good = tmp_path / "good.npy"
    np.save(good, np.zeros(10))
    assert main(["drift", str(bomb), str(good)]) == 1
    message = _one_line_error(capsys.readouterr().err)
    assert "x.npy" in message
    assert "declares" in message
    # An honest archive still reads.
    honest = tmp_path / "honest.npz"
    np.savez_compressed(honest, x=np.arange(20.0).reshape(10, 2))
    assert main(["drift", str(honest), str(honest)]) == 0


def _fill(path: Path) -> None:
    import errno

    with path.open("wb", buffering=0) as filler:
        failure = None
        while failure is None:
            try:
                filler.write(b"\0" * 4096)
            except OSError as exc:
                failure = exc.errno
    assert failure == errno.ENOSPC


@pytest.fixture
def full_disk(tmp_path: Path) -> Any:
    """A 64 KiB tmpfs filled to the last byte (needs root and mount; skipped otherwise)."""
    import shutil

    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
    try:
        _fill(folder / "filler")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_writing_onto_a_full_disk_is_one_line_and_leaves_no_temporary_file(
    full_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "t.npy"
    np.save(table, np.random.default_rng(0).normal(size=(500, 20)))
    assert main(["drift", str(table), str(table), "--output", str(full_disk / "r.md")]) == 1
    assert "disk is full" in _one_line_error(capsys.readouterr().err)
    assert main(["demo", "--quick", "--out", str(full_disk / "demo")]) == 1
    assert "No space left" in _one_line_error(capsys.readouterr().err)
    leftovers = [p.name for p in full_disk.rglob("*") if ".edgeml-tmp-" in p.name]
    assert leftovers == []


def test_drift_output_onto_a_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "t.npy"
    np.save(table, np.arange(40.0).reshape(20, 2))
    assert main(["drift", str(table), str(table), "--output", str(tmp_path)]) == 1
    assert "it is a folder, not a file" in _one_line_error(capsys.readouterr().err)
