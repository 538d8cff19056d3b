from __future__ import annotations

import re
from pathlib import Path

import pytest

import edgeml

pytestmark = pytest.mark.compat
ROOT = Path(__file__).resolve().parents[1]


def test_version_matches_pyproject() -> None:
    declared = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert declared is not None
    assert edgeml.__version__ == declared.group(1)
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+)?", edgeml.__version__)


@pytest.mark.parametrize("name", ["data", "privacy", "conversion", "runtime", "drift", "monitor"])
def test_layers_are_reachable_lazily_and_listed(name: str) -> None:
    assert name in dir(edgeml)
    assert getattr(edgeml, name).__name__ == f"edgeml.{name}"


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = edgeml.no_such_thing  # type: ignore[attr-defined]


def test_every_public_name_resolves() -> None:
    for name in edgeml.__all__:
        assert getattr(edgeml, name) is not None


def test_environment_reports_extras_from_installed_distributions() -> None:
    from importlib import metadata

    env = edgeml.environment()
    assert env.packages["numpy"] == metadata.version("numpy")
    assert set(env.extras) == {"litert", "tf", "monitor", "serve", "demo", "quantizer"}
    payload = env.to_dict()
    assert payload["edgeml_version"] == edgeml.__version__
    assert "<table>" in env._repr_html_()
    assert "| numpy |" in env.to_markdown()
