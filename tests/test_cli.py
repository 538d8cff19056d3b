from __future__ import annotations

import subprocess
import sys

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
