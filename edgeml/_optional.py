"""Import optional dependencies with an error that says which extra to install.

Examples
--------
>>> from edgeml._optional import require
>>> require("json", extra="core", feature="reading JSON").__name__
'json'
>>> require("no_such_package_xyz", extra="tf", feature="conversion")
Traceback (most recent call last):
...
edgeml.errors.MissingDependencyError: conversion needs the optional package 'no_such_package_xyz', which is not installed. Fix: pip install "edgeml[tf]".
"""  # noqa: E501

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from edgeml.errors import MissingDependencyError

__all__ = ["is_available", "require"]


def is_available(module: str) -> bool:
    """Return whether ``module`` can be imported, without importing it.

    Parameters
    ----------
    module : str
        A top-level or dotted module name.

    Returns
    -------
    bool
        ``True`` when the module is installed.

    Examples
    --------
    >>> is_available("numpy"), is_available("no_such_package_xyz")
    (True, False)
    """
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`~edgeml.errors.MissingDependencyError`.

    Parameters
    ----------
    module : str
        The module to import, e.g. ``"ai_edge_litert.interpreter"``.
    extra : str
        The edgeml extra that installs it, e.g. ``"litert"``.
    feature : str
        What the caller is trying to do, used in the message.

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    MissingDependencyError
        When the module (or one of its own dependencies) is not installed; the message
        contains the exact ``pip install "edgeml[extra]"`` command.

    Examples
    --------
    >>> require("math", extra="core", feature="arithmetic").sqrt(4.0)
    2.0
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        raise MissingDependencyError(
            f"{feature} needs the optional package {missing!r}, which is not installed. "
            f'Fix: pip install "edgeml[{extra}]".'
        ) from exc
