"""Standalone report pages: valid, inert, escaped, and drawn by a real browser."""

from __future__ import annotations

import html.parser
from pathlib import Path
from typing import Any

import pytest

from edgeml._html import bar_chart, distribution_chart, page, write_page
from edgeml.errors import ConfigError


class _Elements(html.parser.HTMLParser):
    """Collect start tags and attributes, and check that every element is closed."""

    VOID = frozenset({"meta", "br", "img", "link", "input", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.open[-1:] == [tag], f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


def parse(text: str) -> _Elements:
    parser = _Elements()
    parser.feed(text)
    parser.close()
    assert parser.open == [], f"unclosed elements: {parser.open}"
    return parser


def test_a_page_is_well_formed_and_loads_nothing_from_outside() -> None:
    text = page("Report", [bar_chart(["a"], [1.0]), distribution_chart([0, 1], [3], [4])])
    elements = parse(text)
    names = [tag for tag, _ in elements.tags]
    assert "script" not in names
    assert not any(
        value and value.startswith(("http:", "https:", "//"))
        for tag, attrs in elements.tags
        for key, value in attrs.items()
        if key in {"src", "href"} and tag != "svg"
    )
    csp = [
        a["content"] for t, a in elements.tags if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(csp) == 1
    assert "default-src 'none'" in (csp[0] or "")


def test_labels_and_titles_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    text = page(hostile, [bar_chart([hostile], [1.0], title=hostile)])
    assert "<script>" not in text
    assert "&lt;script&gt;" in text


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: bar_chart(["a", "b"], [1.0]), "values"),
        (lambda: bar_chart(["a"], [float("nan")]), "values"),
        (lambda: bar_chart(["a"], [-1.0]), "values"),
        (lambda: distribution_chart([0, 1, 1], [1, 2]), "edges"),
        (lambda: distribution_chart([0, 1], [1, 2]), "reference"),
        (lambda: distribution_chart([0, 1], [1], [-1]), "current"),
        (lambda: distribution_chart(list(range(1000)), [1] * 999), "edges"),
    ],
)
def test_bad_chart_input_names_the_argument(call: Any, argument: str) -> None:
    with pytest.raises(ConfigError, match=f"'{argument}'"):
        call()


def test_bar_lengths_are_proportional_and_the_threshold_colours() -> None:
    svg = bar_chart(["low", "high"], [1.0, 4.0], threshold=2.0)
    rects = [attrs for tag, attrs in parse(svg).tags if tag == "rect"]
    widths = [float(r["width"] or 0) for r in rects]
    assert widths[1] == pytest.approx(4 * widths[0], rel=1e-2)
    assert [r["fill"] for r in rects] == ["#1f77b4", "#d62728"]


def test_the_browser_draws_every_chart(browser: Any, tmp_path: Path) -> None:
    path = write_page(
        tmp_path / "report.html",
        "Drift report",
        [
            bar_chart(["age", "zip"], [0.05, 0.31], threshold=0.2),
            distribution_chart([0, 1, 2], [1, 2], [2, 1]),
        ],
    )
    browser.get(path.as_uri())
    assert browser.title == "Drift report"
    charts = browser.find_elements("tag name", "svg")
    assert len(charts) == 2
    assert all(c.rect["width"] > 100 and c.rect["height"] > 40 for c in charts)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
