"""The :class:`ModelCard` value: fields, JSON form, canonical hash."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from edgeml import __version__
from edgeml._display import to_jsonable
from edgeml._html import write_page
from edgeml.card._render import card_html, card_markdown, outline
from edgeml.card._scope import build_scope, check_scope
from edgeml.errors import ModelFormatError, invalid_argument
from edgeml.privacy.scope import Protection

__all__ = ["CARD_FORMAT", "CARD_FORMAT_VERSION", "SECTIONS", "ModelCard"]

#: Value of the ``format`` key of every card's JSON.
CARD_FORMAT = "edgeml.ModelCard"
#: The JSON layout version this edgeml writes and reads.
CARD_FORMAT_VERSION = 1

#: Sections filled from other layers' results: name -> what it holds.
SECTIONS: Mapping[str, str] = {
    "data": "data sheet: the MinimizationReport from edgeml.data.minimize",
    "privacy": "differential-privacy guarantee: the Guarantee from edgeml.privacy",
    "audit": "membership-inference audit: the AuditResult from edgeml.privacy.audit",
    "conversion": "conversion report: the ConversionReport from edgeml.convert(...).report",
    "evaluation": "original vs converted model: the Comparison from edgeml.conversion.compare",
    "drift_baseline": "reference sketch for drift checks: an edgeml.drift.Histogram",
}
_TEXT_FIELDS = ("version", "owner", "description", "intended_use", "license", "training_data")


class SupportsToDict(Protocol):
    """Any result object of another edgeml layer: it has ``to_dict()``."""

    def to_dict(self) -> Mapping[str, Any]:  # pragma: no cover - protocol
        """Return a JSON-safe mapping."""
        ...


def _section(value: object, name: str) -> dict[str, Any] | None:
    """Return a JSON-safe dict from a mapping or a result with ``to_dict``, or ``None``."""
    if value is None:
        return None
    if not (isinstance(value, Mapping) or callable(getattr(value, "to_dict", None))):
        source = SECTIONS[name].split(": ", 1)[1] if name in SECTIONS else None
        raise invalid_argument(
            "ModelCard",
            name,
            type(value).__name__,
            "a result object with to_dict(), a mapping, or None",
            fix=f"pass {source}" if source else None,
        )
    data = to_jsonable(value)
    if not isinstance(data, dict):
        raise invalid_argument("ModelCard", name, value, "something whose to_dict() is a dict")
    return data


def _text(value: object, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise invalid_argument("ModelCard", name, value, "a str or None")


def _created(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    raise invalid_argument(
        "ModelCard", "created", value, "an ISO 8601 str, a datetime.date/datetime, or None"
    )


def _limitations(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise invalid_argument("ModelCard", "limitations", value, "a str or a sequence of str")


def _is_number_or_none(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _metrics(value: object) -> dict[str, float | int | None]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        out = {key: to_jsonable(number) for key, number in value.items()}
        if all(isinstance(key, str) and _is_number_or_none(v) for key, v in out.items()):
            return out
    raise invalid_argument(
        "ModelCard",
        "metrics",
        value,
        "a mapping of metric name (str) to number",
        fix='e.g. metrics={"accuracy": 0.93}',
    )


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """A model card and data sheet that travels with the model.

    Fields a person fills in (name, owner, intended use, limitations...) sit next to
    sections filled from what the other layers return: the data minimization report,
    the differential-privacy guarantee, the membership-inference audit, the conversion
    report and evaluation, and the drift baseline. Build one with :meth:`build`, which
    accepts those result objects directly and any subset of fields.

    The sections are stored as JSON-safe dicts (what each result's ``to_dict()``
    returns); treat them as read-only. :meth:`to_json` / :meth:`from_json` round-trip
    exactly, :attr:`hash` identifies the card's content, and
    :func:`~edgeml.card.embed_card` stores it inside a ``.tflite`` file.

    Parameters
    ----------
    name : str
        The model's name.
    version : str, optional
        The model's version.
    owner : str, optional
        Who is responsible for the model (team, contact).
    description : str, optional
        What the model does, in a sentence or two.
    intended_use : str, optional
        Who should use it, for what.
    limitations : sequence of str, optional
        Known limitations, out-of-scope uses and caveats, one per item.
    license : str, optional
        License of the model, e.g. an SPDX identifier.
    created : str or datetime.date, optional
        When the model was made (stored as ISO 8601).
    training_data : str, optional
        A description of the training data (the ``data`` section holds the numbers).
    metrics : mapping of str to float, optional
        Headline metrics, e.g. ``{"accuracy": 0.93}``.
    data, privacy, audit, conversion, evaluation, drift_baseline : mapping, optional
        The sections listed in :data:`SECTIONS`, as dicts.
    privacy_scope : mapping, optional
        Each released part and what protects it (DP with its budget share, data declared
        public or held out, or "not protected"), with a headline worded for what is
        covered. :meth:`build` computes it; see ``edgeml.card._scope`` for the shape.
    extra : mapping, optional
        Any other JSON-safe information.
    edgeml_version : str, optional
        The edgeml version that made the card (defaults to the running one).

    Examples
    --------
    >>> card = ModelCard.build("digits", version="1.0", owner="edge team",
    ...                        limitations=["trained on 8x8 digits only"],
    ...                        metrics={"accuracy": 0.91})
    >>> card
    ModelCard(name='digits', version='1.0', sections=[])
    >>> ModelCard.from_json(card.to_json()) == card
    True
    >>> len(card.hash)
    64
    """

    name: str
    version: str | None = None
    owner: str | None = None
    description: str | None = None
    intended_use: str | None = None
    limitations: tuple[str, ...] = ()
    license: str | None = None
    created: str | None = None
    training_data: str | None = None
    metrics: Mapping[str, float | int | None] = dataclasses.field(default_factory=dict)
    data: Mapping[str, Any] | None = None
    privacy: Mapping[str, Any] | None = None
    audit: Mapping[str, Any] | None = None
    conversion: Mapping[str, Any] | None = None
    evaluation: Mapping[str, Any] | None = None
    drift_baseline: Mapping[str, Any] | None = None
    privacy_scope: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    edgeml_version: str | None = __version__

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise invalid_argument("ModelCard", "name", self.name, "a non-empty str")
        normalized: dict[str, Any] = {
            "limitations": _limitations(self.limitations),
            "created": _created(self.created),
            "metrics": _metrics(self.metrics),
            "edgeml_version": _text(self.edgeml_version, "edgeml_version"),
        }
        for name in _TEXT_FIELDS:
            normalized[name] = _text(getattr(self, name), name)
        for name in SECTIONS:
            normalized[name] = _section(getattr(self, name), name)
        privacy = normalized["privacy"]
        if privacy is not None and not {"epsilon", "delta"} <= set(privacy):
            raise invalid_argument(
                "ModelCard",
                "privacy",
                privacy,
                "a guarantee with 'epsilon' and 'delta'",
                fix="pass edgeml.privacy's Guarantee, e.g. model.privacy.spent()",
            )
        normalized["privacy_scope"] = check_scope(to_jsonable(self.privacy_scope))
        extra = _section(self.extra, "extra") if self.extra is not None else {}
        normalized["extra"] = extra if extra is not None else {}
        for name, value in normalized.items():
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        name: str,
        *,
        data: SupportsToDict | Mapping[str, Any] | None = None,
        privacy: SupportsToDict | Mapping[str, Any] | None = None,
        audit: SupportsToDict | Mapping[str, Any] | None = None,
        conversion: SupportsToDict | Mapping[str, Any] | None = None,
        evaluation: SupportsToDict | Mapping[str, Any] | None = None,
        drift_baseline: SupportsToDict | Mapping[str, Any] | None = None,
        protections: Mapping[str, Any] | None = None,
        ledger: Any = None,
        **fields: Any,
    ) -> ModelCard:
        """Assemble a card from other layers' results and any subset of fields.

        The card's :attr:`privacy_scope` is computed here: every part the card releases
        (weights, quantization parameters, drift baseline, minimization report,
        evaluation, metrics, audit) with what protects it. Parts computed from data the
        card cannot see are "not protected" unless ``protections`` declares otherwise.

        Parameters
        ----------
        name : str
            The model's name.
        data, privacy, audit, conversion, evaluation, drift_baseline : optional
            Result objects (anything with ``to_dict()``: ``MinimizationReport``,
            ``Guarantee``, ``AuditResult``, ``ConversionReport``, ``Comparison``,
            ``Histogram``, ``DPBaseline``...) or plain mappings; see :data:`SECTIONS`.
        protections : mapping of part name to Protection, optional
            Declarations for parts computed from data the card cannot see, e.g.
            ``{"evaluation": Protection.held_out("2025 test split")}``.
        ledger : edgeml.privacy.Ledger, optional
            The ledger every DP release of this model was charged to; the scope states
            its total and the budget split.
        **fields
            Any other field of :class:`ModelCard` (``version``, ``owner``,
            ``intended_use``, ``limitations``, ``license``, ``metrics``...).

        Returns
        -------
        ModelCard
            The card.

        Raises
        ------
        ConfigError
            For an unknown field or a value of the wrong type.

        Examples
        --------
        >>> from edgeml.privacy import Guarantee
        >>> guarantee = Guarantee(epsilon=2.5967, delta=1e-5, accountant="rdp")
        >>> card = ModelCard.build("digits", privacy=guarantee, owner="edge team")
        >>> card.privacy["epsilon"], card.sections
        (2.5967, ('privacy',))
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise invalid_argument(
                "ModelCard.build",
                unknown[0],
                fields[unknown[0]],
                "one of the ModelCard fields",
                fix=f"known fields are {', '.join(sorted(known))}; put other data in extra=",
            )
        sections: dict[str, Any] = {
            "data": data,
            "privacy": privacy,
            "audit": audit,
            "conversion": conversion,
            "evaluation": evaluation,
            "drift_baseline": drift_baseline,
        }
        converted: dict[str, Any] = {k: _section(v, k) for k, v in sections.items()}
        if "privacy_scope" not in fields:
            drift_protection = getattr(drift_baseline, "protection", None)
            if not isinstance(drift_protection, Protection):
                drift_protection = None
            fields["privacy_scope"] = build_scope(
                converted,
                fields.get("metrics") or {},
                drift_protection=drift_protection,
                protections=protections,
                ledger=ledger,
            )
        return cls(name, **fields, **converted)

    def replace(self, **changes: Any) -> ModelCard:
        """Return a copy with some fields changed (sections may be result objects).

        Parameters
        ----------
        **changes
            Fields to change, as for :meth:`build`.

        Returns
        -------
        ModelCard
            The new card; this one is unchanged.

        Examples
        --------
        >>> card = ModelCard.build("digits")
        >>> card.replace(version="2.0").version
        '2.0'
        """
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        scope = current.pop("privacy_scope")
        if "privacy_scope" in changes or not set(changes) & (set(SECTIONS) | {"metrics"}):
            return type(self).build(**{**current, "privacy_scope": scope, **changes})
        # recompute the scope for the new content, keeping what was declared for the rest
        sources = {"drift_baseline": "drift_baseline", "minimization_report": "data"}
        sources.update(evaluation="evaluation", metrics="metrics", audit="audit")
        kept = {
            part: entry
            for part, entry in ((scope or {}).get("parts") or {}).items()
            if part in sources and sources[part] not in changes
        }
        changes = dict(changes)
        protections = {**kept, **(changes.pop("protections", None) or {})}
        ledger = changes.pop("ledger", (scope or {}).get("ledger"))
        return type(self).build(**{**current, **changes}, protections=protections, ledger=ledger)

    @property
    def sections(self) -> tuple[str, ...]:
        """Names of the :data:`SECTIONS` that are filled, in their standard order."""
        return tuple(name for name in SECTIONS if getattr(self, name) is not None)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """Return the card as JSON-safe data, in the layout of the card's JSON Schema.

        Returns
        -------
        dict
            With ``"format": "edgeml.ModelCard"`` and ``"format_version": 1``.
        """
        body = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {
            "format": CARD_FORMAT,
            "format_version": CARD_FORMAT_VERSION,
            **to_jsonable(body),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return the card as JSON text (UTF-8 characters kept as they are).

        Parameters
        ----------
        indent : int or None, default 2
            Indentation; ``None`` for one line.

        Returns
        -------
        str
            JSON that :meth:`from_json` reads back to an equal card.
        """
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def canonical_json(self) -> bytes:
        """Return the canonical JSON bytes that :attr:`hash` covers.

        Keys sorted, no whitespace, UTF-8, floats in Python's shortest round-trip form.
        Equal cards give equal bytes, and a card read back from JSON gives the same
        bytes as the card that was written.

        Returns
        -------
        bytes
            The canonical form.

        Examples
        --------
        >>> ModelCard.build("m", edgeml_version=None).canonical_json()[:59]
        b'{"audit":null,"conversion":null,"created":null,"data":null,'
        """
        text = json.dumps(
            self.to_dict(),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        return text.encode("utf-8")

    @property
    def hash(self) -> str:
        """SHA-256 of :meth:`canonical_json` as 64 hex digits.

        Pass it to :func:`edgeml.security.seal` as ``associated_data`` to bind a sealed
        model to this card: unsealing then requires the same card.
        """
        return hashlib.sha256(self.canonical_json()).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """Rebuild a card from :meth:`to_dict` output.

        Parameters
        ----------
        data : Mapping
            A card's JSON object.

        Returns
        -------
        ModelCard
            The card.

        Raises
        ------
        ModelFormatError
            When ``data`` is not an edgeml model card, was written by a newer edgeml
            (higher ``format_version``), or has fields of the wrong type.
        """
        if not isinstance(data, Mapping) or data.get("format") != CARD_FORMAT:
            raise ModelFormatError(
                f"This is not an edgeml model card: its 'format' is not {CARD_FORMAT!r}. "
                "Fix: pass JSON written by ModelCard.to_json()."
            )
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ModelFormatError(f"The model card's format_version {version!r} is invalid.")
        if version > CARD_FORMAT_VERSION:
            raise ModelFormatError(
                f"The model card has format_version {version}; this edgeml reads up to "
                f"{CARD_FORMAT_VERSION}. Fix: upgrade edgeml."
            )
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k not in ("format", "format_version")}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ModelFormatError(
                f"The model card has unknown fields {unknown}; version-1 cards keep other "
                "information under 'extra'."
            )
        if "name" not in fields:
            raise ModelFormatError("The model card has no 'name'.")
        try:
            return cls(**fields)
        except ValueError as exc:
            raise ModelFormatError(f"The model card is invalid: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelCard:
        """Read a card from :meth:`to_json` output.

        Parameters
        ----------
        text : str or bytes
            The JSON.

        Returns
        -------
        ModelCard
            The card.

        Raises
        ------
        ModelFormatError
            When the text is not JSON or not a valid card.
        """
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise ModelFormatError(f"The model card is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    # ------------------------------------------------------------------ display
    def to_markdown(self) -> str:
        """Return the card as a Markdown document (headings, text, tables).

        Returns
        -------
        str
            Markdown.

        Examples
        --------
        >>> print(ModelCard.build("digits", owner="edge team").to_markdown())
        # Model card: digits
        <BLANKLINE>
        | field | value |
        | --- | --- |
        | owner | edge team |
        | edgeml version | ... |
        """
        return card_markdown(self)

    def _repr_html_(self) -> str:
        return card_html(self)

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the card as a standalone HTML page (inline styles and charts).

        The page shows what a notebook shows: the facts, the privacy scope (what
        protects each released part), every section, and the drift baseline's
        per-feature reference distributions (the first 12 features). It opens in a
        browser without a server, runs no script and loads nothing from the network.
        The file is written atomically.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, usually ending in ``.html``.

        Returns
        -------
        pathlib.Path
            The written file.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> import numpy as np
        >>> from edgeml.drift import Histogram
        >>> baseline = Histogram.fit({"heart_rate": np.arange(60.0, 120.0)}, bins=5)
        >>> card = ModelCard.build("ecg", owner="edge team", drift_baseline=baseline)
        >>> page = card.save_html(pathlib.Path(tempfile.mkdtemp()) / "card.html")
        >>> text = page.read_text()
        >>> "Privacy scope" in text, "heart_rate" in text, text.count("<svg")
        (True, True, 1)
        """
        title = str(outline(self)[0][1])
        return write_page(path, title, [card_html(self, title=False)])

    def __repr__(self) -> str:
        return (
            f"ModelCard(name={self.name!r}, version={self.version!r}, "
            f"sections={list(self.sections)})"
        )

    def __hash__(self) -> int:
        return hash(self.hash)
