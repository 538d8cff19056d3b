"""edgeml: privacy-aware edge machine learning on TensorFlow.

``import edgeml`` is cheap: it loads neither TensorFlow nor LiteRT. The layers
(``edgeml.data``, ``edgeml.privacy``, ``edgeml.conversion``, ``edgeml.runtime``,
``edgeml.drift``, ``edgeml.monitor``) and the top-level functions are imported the first
time they are used, and only those that need TensorFlow load it.

Examples
--------
>>> import edgeml
>>> edgeml.__version__
'0.1.0.dev0'
>>> "drift" in dir(edgeml)
True
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

logging.getLogger("edgeml").addHandler(logging.NullHandler())

# Subpackages reachable as attributes, imported on first access.
_SUBMODULES = frozenset(
    {
        "card",
        "conversion",
        "data",
        "drift",
        "errors",
        "federated",
        "monitor",
        "privacy",
        "runtime",
        "security",
    }
)

# Public functions and classes re-exported at the top level: name -> defining module.
_LAZY_ATTRIBUTES: dict[str, str] = {
    "convert": "edgeml.conversion",
    "environment": "edgeml._environment",
    "load": "edgeml.runtime",
}

if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs only
    from edgeml import (  # noqa: F401
        card,
        conversion,
        data,
        drift,
        errors,
        monitor,
        privacy,
        runtime,
        security,
    )
    from edgeml._environment import environment as environment
    from edgeml.conversion import convert as convert
    from edgeml.runtime import load as load

__all__ = sorted(["__version__", *_SUBMODULES, *_LAZY_ATTRIBUTES])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"edgeml.{name}")
    if name in _LAZY_ATTRIBUTES:
        value = getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edgeml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY_ATTRIBUTES))
