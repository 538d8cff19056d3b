"""Exceptions raised by edgeml.

Every exception derives from :class:`EdgeMLError` *and* from the builtin that matches
its meaning, so ``except ValueError`` in existing code keeps working while
``except edgeml.errors.EdgeMLError`` catches everything edgeml raises on purpose.

Messages follow one shape: what was given, what was expected, and how to fix it.
:func:`invalid_argument` builds that message for the common case of a bad argument.

Examples
--------
>>> from edgeml.errors import ConfigError, invalid_argument
>>> err = invalid_argument("psi", "bins", 1, "an integer >= 2", fix="use bins=10")
>>> isinstance(err, ConfigError) and isinstance(err, ValueError)
True
>>> print(err)
The 'bins' argument of psi must be an integer >= 2. Got 1 instead. Fix: use bins=10.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "EdgeMLError",
    "InferenceError",
    "IntegrityError",
    "MissingDependencyError",
    "ModelFormatError",
    "PIIFoundError",
    "PathError",
    "PrivacyBudgetExceeded",
    "UnsupportedModelError",
    "invalid_argument",
]


class EdgeMLError(Exception):
    """Root of every exception edgeml raises on purpose."""


class ConfigError(EdgeMLError, ValueError):
    """An argument or configuration value is invalid."""


class DataError(EdgeMLError, ValueError):
    """Input data has the wrong shape, type or content (NaN, empty, mismatched columns)."""


class ModelFormatError(EdgeMLError, ValueError):
    """Bytes or a file that should hold a model are not a valid model."""


class IntegrityError(EdgeMLError, ValueError):
    """A model or artifact does not match its stored hash, tag or signature."""


class UnsupportedModelError(EdgeMLError, TypeError):
    """A model (or some of its layers) cannot be handled by the requested operation."""


class MissingDependencyError(EdgeMLError, ImportError):
    """An optional package needed for a feature is not installed."""


class PrivacyBudgetExceeded(EdgeMLError, RuntimeError):  # noqa: N818 - reads as a sentence
    """An operation would spend more privacy (epsilon, delta) than the budget allows."""


class PIIFoundError(EdgeMLError, ValueError):
    """Personal data was found in a column that a policy keeps as-is."""


class PathError(EdgeMLError, OSError):
    """A path given by the caller cannot be read or written.

    Missing, a folder where a file is expected, not a regular file, no permission, disk
    full. ``errno`` and ``filename`` are set like :class:`OSError`'s.
    """

    def __str__(self) -> str:
        return self.strerror if isinstance(self.strerror, str) else super().__str__()


def _short_repr(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def invalid_argument(
    owner: str, name: str, value: object, expected: str, *, fix: str | None = None
) -> ConfigError:
    """Build a :class:`ConfigError` with edgeml's uniform message.

    Parameters
    ----------
    owner : str
        The function or class that received the argument, e.g. ``"psi"``.
    name : str
        The argument's name.
    value : object
        What the caller passed; shown with ``repr`` (shortened when long).
    expected : str
        What the argument must be, phrased to follow "must be".
    fix : str, optional
        One sentence telling the caller what to do instead.

    Returns
    -------
    ConfigError
        The exception, ready to ``raise``.

    Examples
    --------
    >>> raise invalid_argument("epsilon", "delta", 2.0, "a float in the range (0, 1)")
    Traceback (most recent call last):
    ...
    edgeml.errors.ConfigError: The 'delta' argument of epsilon must be a float in the range (0, 1). Got 2.0 instead.
    """  # noqa: E501
    given = _short_repr(value)
    message = f"The {name!r} argument of {owner} must be {expected}. Got {given} instead."
    if fix:
        message += f" Fix: {fix.rstrip('.')}."
    return ConfigError(message)


class InferenceError(EdgeMLError, RuntimeError):
    """The interpreter failed while running a model that loaded (e.g. corrupted constants)."""
