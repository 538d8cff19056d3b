"""``edgeml serve`` argument handling and reference files (the server itself runs in
test_prometheus_integration.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeml.cli import main
from edgeml.errors import DataError
from edgeml.monitor._cli import load_reference


def test_serve_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--reference" in out
    assert "127.0.0.1" in out


def test_missing_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("uvicorn")
    assert main(["serve", str(tmp_path / "missing.tflite")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("edgeml: error:")
    assert "missing.tflite" in err


def test_bad_reference_is_a_clear_error(
    tmp_path: Path, classifier_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("uvicorn")
    (tmp_path / "ref.npy").write_bytes(b"not numpy")
    code = main(["serve", str(classifier_path), "--reference", str(tmp_path / "ref.npy")])
    assert code == 1
    assert "Cannot read the reference file" in capsys.readouterr().err


def test_reference_files(tmp_path: Path) -> None:
    array = np.arange(12.0).reshape(6, 2)
    np.save(tmp_path / "a.npy", array)
    np.testing.assert_array_equal(load_reference(tmp_path / "a.npy"), array)
    np.savez(tmp_path / "one.npz", anything=array)
    np.testing.assert_array_equal(load_reference(tmp_path / "one.npz"), array)
    np.savez(tmp_path / "two.npz", a=array, b=array)
    with pytest.raises(DataError, match="one called 'x'"):
        load_reference(tmp_path / "two.npz")
    np.savez(tmp_path / "named.npz", reference=array, labels=np.zeros(6))
    np.testing.assert_array_equal(load_reference(tmp_path / "named.npz"), array)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--token-file", "{tmp}/missing-token"], "does not exist"),
        (["--body-timeout", "0"], "--body-timeout"),
        (["--idle-timeout", "-1"], "--idle-timeout"),
        (["--limit-concurrency", "0"], "--limit-concurrency"),
    ],
)
def test_bad_serving_options_are_one_line_errors(
    tmp_path: Path,
    classifier_path: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    pytest.importorskip("uvicorn")
    args = [o.replace("{tmp}", str(tmp_path)) for o in options]
    assert main(["serve", str(classifier_path), *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("edgeml: error:")
    assert message in err[0]


def test_serve_help_documents_the_token_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for option in ("--token-file", "--token-env", "EDGEML_SERVE_TOKEN", "--body-timeout"):
        assert option in out


def test_reference_files_that_are_no_array_are_data_errors(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "fifo.npy")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for name in ("fifo.npy", "bad.npz", "objects.npy", "missing.npy"):
        with pytest.raises(DataError, match="Cannot read the reference file"):
            load_reference(tmp_path / name)
    with pytest.raises(DataError):
        load_reference(tmp_path)
