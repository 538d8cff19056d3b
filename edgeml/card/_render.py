"""Render a :class:`~edgeml.card.ModelCard` as Markdown or HTML from one outline."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from edgeml._display import format_cell, html_table, markdown_table
from edgeml._html import histogram_charts

__all__ = ["RenderableCard", "card_html", "card_markdown"]


class RenderableCard(Protocol):
    """What rendering reads from a card (:class:`~edgeml.card.ModelCard` provides it)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def intended_use(self) -> str | None: ...
    @property
    def limitations(self) -> tuple[str, ...]: ...
    @property
    def license(self) -> str | None: ...
    @property
    def created(self) -> str | None: ...
    @property
    def training_data(self) -> str | None: ...
    @property
    def metrics(self) -> Mapping[str, float | int | None]: ...
    @property
    def extra(self) -> Mapping[str, Any]: ...
    @property
    def edgeml_version(self) -> str | None: ...
    @property
    def sections(self) -> tuple[str, ...]: ...
    @property
    def privacy_scope(self) -> Mapping[str, Any] | None: ...


TITLES: Mapping[str, str] = {
    "data": "Data sheet",
    "privacy": "Differential privacy",
    "audit": "Membership-inference audit",
    "conversion": "Conversion",
    "evaluation": "Original vs converted model",
    "drift_baseline": "Drift baseline",
}
# Keys shown first, in this order; the others follow in their stored order.
_FIRST: Mapping[str, tuple[str, ...]] = {
    "data": (
        "purpose",
        "retention_days",
        "rows_in",
        "rows_out",
        "rows_dropped",
        "columns_kept",
        "columns_transformed",
        "columns_pseudonymized",
        "columns_dropped",
        "pii_allowed",
        "pii_findings",
        "quasi_identifiers",
        "k_required",
        "k_achieved",
    ),
    "privacy": (
        "epsilon",
        "delta",
        "accountant",
        "sampling",
        "noise_multiplier",
        "sampling_rate",
        "l2_norm_clip",
        "steps",
        "releases",
    ),
    "conversion": (
        "mode",
        "io",
        "source",
        "bytes",
        "gzip_bytes",
        "quantized_op_fraction",
        "float_ops",
        "flex_ops",
        "op_counts",
        "weight_dtypes",
        "calibration_samples",
        "weights_sha256",
    ),
    "evaluation": ("metric", "reference", "converted", "delta", "agreement"),
    "audit": ("auc", "advantage", "members", "non_members"),
}
# Keys left out of the tables: shown as text elsewhere, or too detailed for a summary.
_HIDDEN: Mapping[str, frozenset[str]] = {
    "privacy": frozenset({"statement"}),
    "conversion": frozenset({"inputs", "outputs", "tensor_dtypes"}),
    "audit": frozenset({"attacks"}),
}
_MAX_ITEMS = 8
_HISTOGRAM_FORMAT = "edgeml.drift.Histogram"

Block = tuple[str, Any]


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _cell(value: Any) -> Any:
    """Summarize a JSON value for one table cell."""
    if value is None:
        return "not set"
    if _is_scalar(value):
        return value
    if isinstance(value, Mapping):
        if not value:
            return "none"
        if len(value) <= _MAX_ITEMS and all(_is_scalar(v) for v in value.values()):
            return "; ".join(f"{k}: {format_cell(v)}" for k, v in value.items())
        return f"{len(value)} entries"
    if isinstance(value, Sequence):
        if not value:
            return "none"
        if all(_is_scalar(v) for v in value):
            shown = ", ".join(format_cell(v) for v in value[:_MAX_ITEMS])
            more = len(value) - _MAX_ITEMS
            return shown + (f", ... (+{more} more)" if more > 0 else "")
        return f"{len(value)} items"
    return str(value)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _section_rows(name: str, section: Mapping[str, Any]) -> list[list[Any]]:
    if name == "drift_baseline" and section.get("format") == _HISTOGRAM_FORMAT:
        return _histogram_rows(section)
    hidden = _HIDDEN.get(name, frozenset())
    first = [k for k in _FIRST.get(name, ()) if k in section]
    rest = [k for k in section if k not in first and k not in hidden]
    rows = [[_label(k), _cell(section[k])] for k in first + rest]
    if name == "audit":
        rows += _attack_rows(section.get("attacks"))
    return rows


def _attack_rows(attacks: object) -> list[list[Any]]:
    """One row per attack of a serialized ``edgeml.privacy.AuditResult``."""
    if not isinstance(attacks, Sequence) or isinstance(attacks, str):
        return []
    rows = []
    for attack in attacks:
        if isinstance(attack, Mapping) and "name" in attack:
            figures = [
                f"{label} {format_cell(attack[key])}"
                for key, label in (
                    ("auc", "AUC"),
                    ("advantage", "advantage"),
                    ("tpr_at_1pct_fpr", "TPR at 1% FPR"),
                    ("tpr_at_01pct_fpr", "TPR at 0.1% FPR"),
                )
                if key in attack
            ]
            rows.append([f"attack: {attack['name']}", ", ".join(figures)])
    return rows


def _histogram_rows(section: Mapping[str, Any]) -> list[list[Any]]:
    """Summarize a serialized ``edgeml.drift.Histogram`` (its arrays stay in the JSON)."""
    names = section.get("names") or []
    edges = section.get("edges") or [[]]
    counts = section.get("counts") or [[]]
    bins = max(len(edges[0]) - 1, 0) if edges else 0
    reference = sum(counts[0]) if counts and counts[0] else 0
    return [
        ["sketch", "histogram (edgeml.drift.Histogram)"],
        ["features", len(names)],
        ["feature names", _cell(list(names))],
        ["bins per feature", bins],
        ["reference values per feature", reference],
    ]


def _scope_blocks(scope: Mapping[str, Any] | None) -> list[Block]:
    """Return the privacy scope blocks: its headline, then one row per released part."""
    if not scope:
        return []
    rows = []
    for part, entry in (scope.get("parts") or {}).items():
        protection = entry.get("protection")
        if protection == "dp":
            share = f"DP, epsilon {format_cell(entry.get('epsilon'))}"
            if entry.get("release"):
                share += f" (release {entry['release']!r})"
            protection = share
        rows.append([_label(part), f"{protection}: {entry.get('detail', '')}"])
    ledger = scope.get("ledger")
    if isinstance(ledger, Mapping):
        split = " + ".join(
            f"{r.get('name')} {format_cell(r.get('epsilon'))}" for r in ledger.get("releases", [])
        )
        rows.append(
            [
                "ledger total",
                f"epsilon {format_cell(ledger.get('epsilon'))}, delta "
                f"{format_cell(ledger.get('delta'))} (releases: {split})",
            ]
        )
    return [("heading", "Privacy scope"), ("text", str(scope.get("headline", ""))), ("table", rows)]


def outline(card: RenderableCard) -> list[Block]:
    """Return the card as a list of ``(kind, payload)`` blocks to render.

    Kinds: ``"title"``, ``"heading"`` and ``"text"`` carry a str, ``"table"`` a list of
    ``[field, value]`` rows, ``"bullets"`` a list of str, ``"charts"`` a serialized
    Histogram (drawn in HTML only).
    """
    title = f"Model card: {card.name}" + (f" {card.version}" if card.version else "")
    blocks: list[Block] = [("title", title)]
    if card.description:
        blocks.append(("text", card.description))
    facts = [
        ["owner", card.owner],
        ["license", card.license],
        ["created", card.created],
        ["edgeml version", card.edgeml_version],
    ]
    blocks.append(("table", [row for row in facts if row[1] is not None]))
    blocks += _scope_blocks(card.privacy_scope)
    if card.intended_use:
        blocks += [("heading", "Intended use"), ("text", card.intended_use)]
    if card.limitations:
        blocks += [("heading", "Limitations"), ("bullets", list(card.limitations))]
    if card.training_data:
        blocks += [("heading", "Training data"), ("text", card.training_data)]
    if card.metrics:
        blocks += [("heading", "Metrics"), ("table", [[k, v] for k, v in card.metrics.items()])]
    for name in card.sections:
        section = getattr(card, name)
        blocks.append(("heading", TITLES[name]))
        statement = section.get("statement")
        if isinstance(statement, str):
            blocks.append(("text", statement))
        blocks.append(("table", _section_rows(name, section)))
        if name == "drift_baseline" and section.get("format") == _HISTOGRAM_FORMAT:
            blocks.append(("charts", section))
    if card.extra:
        blocks += [("heading", "Other"), ("table", _section_rows("extra", card.extra))]
    return [block for block in blocks if block != ("table", [])]


def card_markdown(card: RenderableCard) -> str:
    """Render :func:`outline` as Markdown."""
    parts = []
    for kind, payload in outline(card):
        if kind == "title":
            parts.append(f"# {payload}")
        elif kind == "heading":
            parts.append(f"## {payload}")
        elif kind == "text":
            parts.append(str(payload))
        elif kind == "bullets":
            parts.append("\n".join(f"- {item}" for item in payload))
        elif kind == "table":
            parts.append(markdown_table(["field", "value"], payload))
    return "\n\n".join(parts)


def _baseline_charts(section: Mapping[str, Any]) -> str:
    """Per-feature reference distributions of a serialized Histogram (first 12)."""
    try:
        return histogram_charts(section["names"], section["edges"], section["counts"])
    except (KeyError, TypeError, ValueError, IndexError):  # a hand-edited card: no charts
        return ""


def card_html(card: RenderableCard, *, title: bool = True) -> str:
    """Render :func:`outline` as an HTML fragment (all text escaped).

    ``title=False`` leaves out the card's title (a saved page shows it as its heading).
    """
    parts = []
    for kind, payload in outline(card):
        if kind == "title":
            if title:
                parts.append(f"<h3>{html.escape(payload)}</h3>")
        elif kind == "charts":
            parts.append(_baseline_charts(payload))
        elif kind == "heading":
            parts.append(f"<h4>{html.escape(payload)}</h4>")
        elif kind == "text":
            parts.append(f"<p>{html.escape(str(payload))}</p>")
        elif kind == "bullets":
            items = "".join(f"<li>{html.escape(str(item))}</li>" for item in payload)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append(html_table(["field", "value"], payload))
    return '<div class="edgeml-model-card">' + "".join(parts) + "</div>"
