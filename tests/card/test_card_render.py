"""Markdown and HTML views of a model card."""

from __future__ import annotations

import pytest

from edgeml.card import ModelCard
from edgeml.privacy import Guarantee

pytestmark = pytest.mark.compat

GUARANTEE = Guarantee(epsilon=3.0, delta=1e-5, accountant="rdp", steps=100)


def test_markdown_has_every_part_in_order() -> None:
    card = ModelCard.build(
        "digits",
        version="1.0",
        owner="edge team",
        intended_use="demos",
        limitations=["only 8x8"],
        metrics={"accuracy": 0.91},
        privacy=GUARANTEE,
        conversion={"mode": "int8", "bytes": 12345, "inputs": [{"name": "x"}]},
        extra={"notes": "n/a"},
    )
    text = card.to_markdown()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Model card: digits 1.0",
        "## Privacy scope",
        "## Intended use",
        "## Limitations",
        "## Metrics",
        "## Differential privacy",
        "## Conversion",
        "## Other",
    ]
    assert "- only 8x8" in text
    assert "| accuracy | 0.91 |" in text
    assert "| epsilon | 3 |" in text
    assert GUARANTEE.statement() in text
    assert "| mode | int8 |" in text
    assert "inputs" not in text  # tensor details stay in the JSON


def test_sections_summarize_nested_values() -> None:
    card = ModelCard.build(
        "m",
        data={
            "columns_kept": [f"c{i}" for i in range(10)],
            "columns_dropped": {"name": "not declared"},
            "pii_findings": [{"column": "note"}, {"column": "mail"}],
            "purpose": None,
        },
    )
    text = card.to_markdown()
    assert "| columns kept | c0, c1, c2, c3, c4, c5, c6, c7, ... (+2 more) |" in text
    assert "| columns dropped | name: not declared |" in text
    assert "| pii findings | 2 items |" in text
    assert "| purpose | not set |" in text


def test_html_escapes_user_text() -> None:
    card = ModelCard.build("<script>alert(1)</script>", limitations=["a < b & c"])
    page = card._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<li>a &lt; b &amp; c</li>" in page
    assert page.startswith('<div class="edgeml-model-card"><h3>')


def test_audit_section_lists_each_attack() -> None:
    audit = {
        "auc": 0.6,
        "advantage": 0.2,
        "members": 100,
        "non_members": 100,
        "attacks": [
            {"name": "loss_threshold", "auc": 0.6, "advantage": 0.2, "tpr_at_1pct_fpr": 0.05},
            {"name": "logistic_regression", "auc": 0.55, "advantage": 0.1},
        ],
    }
    text = ModelCard.build("m", audit=audit).to_markdown()
    assert "## Membership-inference audit" in text
    assert "| auc | 0.6 |" in text
    assert "| attack: loss_threshold | AUC 0.6, advantage 0.2, TPR at 1% FPR 0.05 |" in text
    assert "| attack: logistic_regression | AUC 0.55, advantage 0.1 |" in text
