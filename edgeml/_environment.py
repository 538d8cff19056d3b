"""What is installed: edgeml's version, its optional extras and their packages.

Examples
--------
>>> import edgeml
>>> env = edgeml.environment()
>>> env.edgeml_version == edgeml.__version__
True
>>> sorted(env.extras)
['demo', 'litert', 'monitor', 'quantizer', 'serve', 'tf']
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from edgeml._display import html_table, markdown_table, to_jsonable

__all__ = ["EXTRAS", "Environment", "environment"]

#: The distributions each optional extra brings (the core ones are always required).
EXTRAS: dict[str, tuple[str, ...]] = {
    "litert": ("ai-edge-litert",),
    "tf": ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert"),
    "monitor": ("prometheus-client",),
    "serve": ("prometheus-client", "fastapi", "uvicorn"),
    "demo": ("tensorflow", "scikit-learn"),
    "quantizer": ("ai-edge-quantizer",),
}
_CORE = ("numpy", "scipy", "dp-accounting", "cryptography")


def _version_of(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Environment:
    """The installed versions of edgeml and of the packages its extras need.

    Attributes
    ----------
    edgeml_version : str
        ``edgeml.__version__``.
    python : str
        The Python version, e.g. ``"3.11.7"``.
    platform : str
        The operating system and machine.
    packages : dict
        Distribution name -> installed version, or ``None`` when absent.
    extras : dict
        Extra name -> whether every package it brings is installed.
    """

    edgeml_version: str
    python: str
    platform: str
    packages: dict[str, str | None] = field(default_factory=dict)
    extras: dict[str, bool] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(self.__dict__))

    def _rows(self) -> list[list[Any]]:
        return [[name, version or "not installed"] for name, version in self.packages.items()]

    def to_markdown(self) -> str:
        """Return the package table as Markdown."""
        return markdown_table(["package", "version"], self._rows())

    def _repr_html_(self) -> str:
        caption = f"edgeml {self.edgeml_version} on Python {self.python}; extras: " + ", ".join(
            f"{k} {'yes' if v else 'no'}" for k, v in self.extras.items()
        )
        return html_table(["package", "version"], self._rows(), caption=caption)

    def __repr__(self) -> str:
        extras = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in self.extras.items())
        return f"Environment(edgeml={self.edgeml_version}, python={self.python}, {extras})"


def environment() -> Environment:
    """Report what is installed, without importing any optional package.

    Returns
    -------
    Environment
        Versions of edgeml, Python, the core packages and every extra's packages.

    Examples
    --------
    >>> env = environment()
    >>> env.packages["numpy"] is not None
    True
    """
    from edgeml import __version__

    names = list(dict.fromkeys([*_CORE, *(d for dists in EXTRAS.values() for d in dists)]))
    packages = {name: _version_of(name) for name in names}
    extras = {extra: all(packages[d] is not None for d in dists) for extra, dists in EXTRAS.items()}
    return Environment(
        edgeml_version=__version__,
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()} ({sys.platform})",
        packages=packages,
        extras=extras,
    )
