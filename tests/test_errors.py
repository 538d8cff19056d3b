from __future__ import annotations

import pytest

from edgeml import errors
from edgeml._optional import is_available, require

pytestmark = pytest.mark.compat


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.ConfigError, ValueError),
        (errors.DataError, ValueError),
        (errors.ModelFormatError, ValueError),
        (errors.IntegrityError, ValueError),
        (errors.UnsupportedModelError, TypeError),
        (errors.MissingDependencyError, ImportError),
        (errors.PrivacyBudgetExceeded, RuntimeError),
        (errors.PIIFoundError, ValueError),
    ],
)
def test_each_error_is_caught_by_its_builtin_and_the_root(cls: type, builtin: type) -> None:
    with pytest.raises(builtin):
        raise cls("x")
    with pytest.raises(errors.EdgeMLError):
        raise cls("x")


def test_invalid_argument_names_owner_argument_value_and_fix() -> None:
    err = errors.invalid_argument("psi", "bins", "x" * 200, "an integer >= 2", fix="use 10.")
    text = str(err)
    assert text.startswith("The 'bins' argument of psi must be an integer >= 2. Got 'xxx")
    assert "..." in text  # long values are shortened
    assert text.endswith("Fix: use 10.")


def test_require_names_extra_and_pip_command() -> None:
    with pytest.raises(errors.MissingDependencyError) as info:
        require("definitely_not_installed_pkg.sub", extra="litert", feature="running a model")
    message = str(info.value)
    assert "running a model" in message
    assert 'pip install "edgeml[litert]"' in message
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_is_available_does_not_import() -> None:
    import sys

    assert is_available("json")
    assert not is_available("definitely_not_installed_pkg")
    assert "definitely_not_installed_pkg" not in sys.modules
