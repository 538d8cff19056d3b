"""Audit what a model file (or a release folder) carries, and what protects each part.

:func:`audit_release` reads a ``.tflite`` without TensorFlow and lists every statistic
it embeds: the weights, the quantization ranges of its activations, and each part of an
edgeml model card (drift baseline, data sheet, evaluation, metrics, audit), each with
its protection as the card's privacy scope states it, and flags what nothing protects.
Where the card is missing or older than the privacy scope, parts are "not protected":
an artifact is never assumed safe.

A folder is audited file by file (not its subfolders: point it at what you ship): each
``.tflite``, a ``.sealed`` copy (the audit of the model it seals, when that is next to
it), a ``.md`` rendering of a card found in the folder; any other file is flagged,
since the audit cannot tell what it holds.

Examples
--------
>>> from edgeml.modelfile import example_model
>>> result = audit_release(example_model())
>>> result.covered, [item.part for item in result.items]
(False, ['weights'])
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgeml._display import html_table, markdown_table
from edgeml.errors import EdgeMLError, invalid_argument
from edgeml.modelfile import quantized_activations, read_metadata
from edgeml.privacy.scope import Protection

__all__ = ["ReleaseAudit", "ReleaseItem", "audit_release"]

_CARD_ENTRY, _EDGEML_ENTRY = "model_card", "edgeml"
_CARD_SECTIONS = {
    "drift_baseline": "drift_baseline",
    "data": "minimization_report",
    "evaluation": "evaluation",
    "metrics": "metrics",
    "audit": "audit",
}


def _read_model(content: bytes) -> tuple[dict[str, dict[str, Any]], int]:
    """Return the model's JSON metadata and how many activation tensors are quantized.

    The only place this module reads the file format; it needs no TensorFlow.
    """
    return read_metadata(content), quantized_activations(content)


@dataclasses.dataclass(frozen=True)
class ReleaseItem:
    """One released part and what protects it.

    Attributes
    ----------
    file : str
        The file it is in.
    part : str
        ``"weights"``, ``"quantization"``, ``"drift_baseline"``, ``"minimization_report"``,
        ``"evaluation"``, ``"metrics"``, ``"audit"``, ``"metadata:<name>"`` or ``"file"``.
    protection : Protection
        What protects it.
    """

    file: str
    part: str
    protection: Protection

    @property
    def covered(self) -> bool:
        """Whether anything protects the part."""
        return self.protection.covered

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"file": self.file, "part": self.part, **self.protection.to_dict()}


@dataclasses.dataclass(frozen=True)
class ReleaseAudit:
    """What a release carries, part by part.

    Attributes
    ----------
    path : str
        The file or folder audited.
    items : tuple of ReleaseItem
        Every part found, in file order.
    skipped : tuple of str
        Subfolders not audited.
    """

    path: str
    items: tuple[ReleaseItem, ...]
    skipped: tuple[str, ...] = ()

    @property
    def covered(self) -> bool:
        """Whether every part is protected (DP, declared public or held out)."""
        return all(item.covered for item in self.items)

    @property
    def uncovered(self) -> tuple[ReleaseItem, ...]:
        """The parts nothing protects."""
        return tuple(item for item in self.items if not item.covered)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "path": self.path,
            "covered": self.covered,
            "items": [item.to_dict() for item in self.items],
            "skipped": list(self.skipped),
        }

    def _rows(self) -> list[list[Any]]:
        rows = []
        for item in self.items:
            p = item.protection
            kind = f"DP, epsilon {p.epsilon:g} ({p.release})" if p.kind == "dp" else p.kind
            flag = "" if item.covered else "UNCOVERED: "
            rows.append([item.file, item.part, f"{flag}{kind}", p.detail])
        return rows

    def to_markdown(self) -> str:
        """Return the items as a Markdown table."""
        return markdown_table(["file", "part", "protection", "detail"], self._rows())

    def _repr_html_(self) -> str:
        verdict = "every part covered" if self.covered else f"{len(self.uncovered)} uncovered"
        return html_table(
            ["file", "part", "protection", "detail"],
            self._rows(),
            caption=f"Release audit of {self.path}: {verdict}",
        )

    def __repr__(self) -> str:
        return (
            f"ReleaseAudit(path={self.path!r}, items={len(self.items)}, "
            f"uncovered={len(self.uncovered)})"
        )


def _model_items(name: str, content: bytes) -> list[ReleaseItem]:
    try:
        documents, quantized = _read_model(content)
    except (EdgeMLError, ValueError) as exc:
        reason = f"not a readable .tflite ({type(exc).__name__}); its content is unknown"
        return [ReleaseItem(name, "file", Protection.none(reason))]
    card = documents.get(_CARD_ENTRY)
    scope = card.get("privacy_scope") if isinstance(card, Mapping) else None
    parts = scope.get("parts") if isinstance(scope, Mapping) else None
    stated: dict[str, Protection] = {}
    if isinstance(parts, Mapping):
        for part, entry in parts.items():
            try:
                stated[str(part)] = Protection.from_dict(entry)
            except (EdgeMLError, ValueError, TypeError, AttributeError):
                stated[str(part)] = Protection.none("the card's scope entry is malformed")
    no_scope = "the card states no privacy scope for it" if card else "no model card states it"
    items = [ReleaseItem(name, "weights", stated.get("weights", Protection.none(no_scope)))]
    if quantized:
        conversion = (documents.get(_EDGEML_ENTRY) or {}).get("conversion") or {}
        recorded = conversion.get("calibration_privacy")
        fallback = (
            Protection.from_dict(recorded)
            if isinstance(recorded, Mapping)
            else Protection.none(
                f"{quantized} activation tensors carry ranges; nothing records what "
                "data calibrated them"
            )
        )
        items.append(ReleaseItem(name, "quantization", stated.get("quantization", fallback)))
    if isinstance(card, Mapping):
        for section, part in _CARD_SECTIONS.items():
            if card.get(section):
                protection = stated.get(part, Protection.none(no_scope))
                items.append(ReleaseItem(name, part, protection))
    for entry in documents:
        if entry not in (_CARD_ENTRY, _EDGEML_ENTRY):
            unknown = Protection.none("a metadata document edgeml did not write; not audited")
            items.append(ReleaseItem(name, f"metadata:{entry}", unknown))
    return items


def _card_headline(content: bytes) -> tuple[str, str] | None:
    try:
        card = _read_model(content)[0].get(_CARD_ENTRY)
    except (EdgeMLError, ValueError):
        return None
    if not isinstance(card, Mapping):
        return None
    scope = card.get("privacy_scope")
    headline = scope.get("headline", "") if isinstance(scope, Mapping) else ""
    return str(card.get("name", "")), str(headline)


def _folder_items(folder: Path) -> tuple[list[ReleaseItem], list[str]]:
    items: list[ReleaseItem] = []
    skipped: list[str] = []
    models: dict[str, list[ReleaseItem]] = {}
    entries = sorted(folder.iterdir())
    for path in entries:
        if path.is_dir():
            skipped.append(path.name)
        elif path.suffix == ".tflite":
            models[path.name] = _model_items(path.name, path.read_bytes())
            items += models[path.name]
    for path in entries:
        if path.is_dir() or path.suffix == ".tflite":
            continue
        items.append(_other_file(path, models, folder))
    return items, skipped


def _other_file(path: Path, models: Mapping[str, list[ReleaseItem]], folder: Path) -> ReleaseItem:
    name = path.name
    if path.suffix == ".sealed" and path.stem in models:
        covered = all(item.covered for item in models[path.stem])
        detail = f"encrypted copy of {path.stem}; its parts are audited there"
        kind = "public" if covered else "not protected"
        if not covered:
            detail += " (and some are not protected)"
        return ReleaseItem(name, "file", Protection(kind, detail))
    if path.suffix == ".md":
        text = path.read_text(encoding="utf-8", errors="replace")
        for model in models:
            found = _card_headline((folder / model).read_bytes())
            if found and text.startswith(f"# Model card: {found[0]}") and found[1] in text:
                covered = all(item.covered for item in models[model])
                detail = f"the rendering of {model}'s card; its parts are audited there"
                return ReleaseItem(
                    name, "file", Protection("public" if covered else "not protected", detail)
                )
    reason = "not an edgeml artifact audit_release can read; treat its content as unprotected"
    return ReleaseItem(name, "file", Protection.none(reason))


def audit_release(path_or_bytes: str | os.PathLike[str] | bytes) -> ReleaseAudit:
    """List every statistic a model file or release folder carries, with its protection.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A ``.tflite`` file, its bytes, or a folder of files to be released.

    Returns
    -------
    ReleaseAudit
        ``covered`` is True only when every part is DP (charged to a ledger), or comes
        from data declared public or held out.

    Raises
    ------
    ConfigError
        When the path does not exist.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> audit_release(example_model()).uncovered[0].protection.detail
    'no model card states it'
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return ReleaseAudit("<bytes>", tuple(_model_items("<bytes>", bytes(path_or_bytes))))
    path = Path(path_or_bytes)
    if path.is_dir():
        items, skipped = _folder_items(path)
        return ReleaseAudit(str(path), tuple(items), tuple(skipped))
    if not path.is_file():
        raise invalid_argument(
            "audit_release", "path_or_bytes", str(path), "an existing .tflite file or folder"
        )
    content = path.read_bytes()
    if path.suffix == ".tflite" or content[4:8] == b"TFL3":
        return ReleaseAudit(str(path), tuple(_model_items(path.name, content)))
    return ReleaseAudit(str(path), (_other_file(path, {}, path.parent),))
