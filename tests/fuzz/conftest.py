"""Shared settings of the fuzz suite (issue 15).

Each module drives one family of public entry points with generated bad input and
asserts that only edgeml errors come out (or a result). Use the shared profiles, so the
suite has one knob for CI time:

.. code-block:: python

    from hypothesis import given, settings

    @settings(settings.get_profile("fuzz"))
    @given(...)
    def test_something(...): ...

    @settings(settings.get_profile("fuzz-subprocess"))   # one child process per example
    @given(...)
    def test_something_that_may_crash(...): ...

``fuzz`` runs ``EDGEML_FUZZ_EXAMPLES`` examples (default 100), ``fuzz-subprocess``
``EDGEML_FUZZ_SUBPROCESS_EXAMPLES`` (default 6); both are derandomized (the same examples
on every run, so CI is reproducible) and have no deadline. Raise the environment
variables for a long local run, e.g. ``EDGEML_FUZZ_EXAMPLES=20000``.

The ``edgeml_only`` fixture calls a function and fails the test if anything but an
:class:`edgeml.errors.EdgeMLError` (or a result) comes out.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from edgeml.errors import EdgeMLError

_RELAXED = [
    HealthCheck.too_slow,
    HealthCheck.function_scoped_fixture,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
]
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("EDGEML_FUZZ_EXAMPLES", "100")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_RELAXED,
)
settings.register_profile(
    "fuzz-subprocess",
    max_examples=int(os.environ.get("EDGEML_FUZZ_SUBPROCESS_EXAMPLES", "6")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_RELAXED,
)


def _edgeml_only(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Return ``function(*args, **kwargs)`` or the EdgeMLError it raised; fail otherwise."""
    try:
        return function(*args, **kwargs)
    except EdgeMLError as exc:
        error = exc
    except Exception as exc:
        pytest.fail(f"{type(exc).__name__} escaped from {function.__qualname__}: {exc!r}"[:2000])
    builtin = [base for base in type(error).__mro__ if base.__module__ == "builtins"]
    assert builtin[0] is not Exception, f"{type(error).__name__} derives no builtin meaning"
    assert str(error), "an edgeml error without a message"
    return error


@pytest.fixture
def edgeml_only() -> Callable[..., Any]:
    """Call a function; anything but a result or an edgeml error fails the test."""
    return _edgeml_only
