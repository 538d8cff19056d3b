"""Standalone report pages: valid, inert, escaped, and drawn by a real browser."""

from __future__ import annotations

import html
import html.parser
import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeml._html import (
    _sketch_bins,
    bar_chart,
    distribution_chart,
    histogram_charts,
    page,
    write_page,
)
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


# ---------------------------------------------------------------------------- report pages
HOSTILE = '<script>alert("x")</script>&'
RAW_HOSTILE = "<script>alert("


def drift_report() -> Any:
    from edgeml.drift import compare

    rng = np.random.default_rng(0)
    n = 2000
    reference = {
        HOSTILE: rng.normal(0.0, 1.0, n),
        "heart_rate": rng.normal(70.0, 8.0, n),
        "ward": rng.choice(["a", "b", "<c>"], n),
    }
    current = {
        HOSTILE: rng.normal(0.0, 1.0, n),
        "heart_rate": rng.normal(80.0, 8.0, n),
        "ward": rng.choice(["a", "b", "<c>"], n, p=[0.6, 0.3, 0.1]),
    }
    return compare(reference, current)


def model_card() -> Any:
    from edgeml.card import ModelCard
    from edgeml.drift import Histogram
    from edgeml.privacy import Guarantee

    rng = np.random.default_rng(1)
    baseline = Histogram.fit({HOSTILE: rng.normal(size=500), "heart_rate": rng.normal(70, 8, 500)})
    return ModelCard.build(
        HOSTILE,
        owner="edge team",
        privacy=Guarantee(epsilon=2.5, delta=1e-5, accountant="rdp"),
        drift_baseline=baseline,
    )


def conversion_report() -> Any:
    from edgeml.card import embed_card
    from edgeml.conversion.report import analyze
    from edgeml.modelfile import example_model

    return analyze(embed_card(example_model(), model_card()))


def minimization_report() -> Any:
    from edgeml.data import Policy, minimize

    records = {"age": [31, 47, 52], HOSTILE: ["a@x.org", "b@y.org", "c@z.org"]}
    return minimize(records, Policy(keep={"age": None}))[1]


REPORTS = {
    "drift": (drift_report, "Drift report", 1 + 3),  # severity bars + 3 distributions
    "card": (model_card, "Model card: " + HOSTILE, 2),  # 2 baseline distributions
    "conversion": (conversion_report, "Conversion report", 2),  # sizes + ops
    "minimization": (minimization_report, "Data minimization report", 0),
}


def tables(text: str) -> list[str]:
    return re.findall(r"<table>.*?</table>", text, flags=re.DOTALL)


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_a_saved_report_is_inert_escaped_and_shows_the_notebook_tables(
    kind: str, tmp_path: Path
) -> None:
    build, title, charts = REPORTS[kind]
    report = build()
    path = report.save_html(tmp_path / f"{kind}.html")
    text = path.read_text(encoding="utf-8")
    elements = parse(text)
    names = [tag for tag, _ in elements.tags]
    assert "script" not in names
    assert RAW_HOSTILE not in text
    if kind != "conversion":  # a conversion report shows no user-chosen names
        assert html.escape(HOSTILE) in text
    csp = [a for t, a in elements.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1
    assert names.count("svg") == charts
    assert f"<title>{html.escape(title)}</title>" in text
    # The notebook shows the same tables and charts as the page.
    notebook = report._repr_html_()
    assert tables(notebook) == tables(text)
    assert tables(text)
    assert notebook.count("<svg") == charts


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_the_browser_draws_every_report_chart(browser: Any, kind: str, tmp_path: Path) -> None:
    build, title, charts = REPORTS[kind]
    path = build().save_html(tmp_path / f"{kind}.html")
    browser.get(path.as_uri())
    assert browser.title == title
    drawn = browser.find_elements("tag name", "svg")
    assert len(drawn) == charts
    assert all(c.rect["width"] > 100 and c.rect["height"] > 40 for c in drawn)
    assert browser.find_elements("tag name", "table")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_drift_report_keeps_the_binned_samples_it_plots() -> None:
    report = drift_report()
    rng = np.random.default_rng(0)
    n = 2000
    ref = rng.normal(0.0, 1.0, n)
    heart_ref = rng.normal(70.0, 8.0, n)
    rng.choice(["a", "b", "<c>"], n)
    rng.normal(0.0, 1.0, n)
    heart_cur = rng.normal(80.0, 8.0, n)
    data = report["heart_rate"].distribution
    assert data is not None
    # Independent reference: numpy's quantiles and a plain count per bin.
    edges = np.quantile(heart_ref, np.linspace(0, 1, 11))
    np.testing.assert_allclose(data["edges"], edges, rtol=1e-12)
    expected = [int((heart_cur < edges[0]).sum())]
    expected += np.histogram(heart_cur[heart_cur <= edges[-1]], bins=edges)[0].tolist()
    expected.append(int((heart_cur > edges[-1]).sum()))
    assert data["current_counts"] == expected
    assert sum(data["reference_counts"]) == n
    assert report[HOSTILE].distribution is not None
    assert np.isclose(report[HOSTILE].distribution["edges"][0], ref.min())
    ward = report["ward"].distribution
    assert ward is not None
    assert sorted(ward["categories"]) == sorted(["a", "b", "<c>"])
    # Small and JSON-safe: about 35 numbers per numeric feature.
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert len(text) < 4000


def test_drift_severity_bars_are_statistic_over_threshold_capped_at_10() -> None:
    report = drift_report()
    charts = re.findall(r"<svg.*?</svg>", report._repr_html_(), flags=re.DOTALL)
    severity = next(svg for svg in charts if "Severity" in svg)
    labels = re.findall(r">([^<>]+)</text>", severity)
    heart = report["heart_rate"].result
    assert f"{heart.statistic / 0.2:.4g}" in labels  # PSI over its default threshold 0.2
    assert report["ward"].pvalue_adjusted < 0.05 / 10  # far past the boundary: capped
    assert "10" in labels
    rects = [attrs for tag, attrs in parse(severity).tags if tag == "rect"]
    assert [r["fill"] for r in rects] == ["#d62728", "#d62728", "#1f77b4"]


def test_a_wide_drift_report_draws_12_features_and_says_so() -> None:
    from edgeml.drift import compare

    rng = np.random.default_rng(6)
    wide = {f"f{j:02d}": rng.normal(size=3000) for j in range(15)}
    shifted = {name: values + 0.25 * j for j, (name, values) in enumerate(wide.items())}
    view = compare(wide, shifted)._repr_html_()
    assert view.count("<figure>") == 12
    assert "3 more features not drawn" in view
    # The 12 drawn are the worst: the three least shifted columns are left out.
    drawn = re.findall(r"<figcaption>(f\d\d):", view)
    assert sorted(drawn) == [f"f{j:02d}" for j in range(3, 15)]


def test_conversion_size_bars_are_proportional_to_the_bytes() -> None:
    report = conversion_report()
    assert report.card_bytes > 0
    page = report._repr_html_()
    charts = re.findall(r"<svg.*?</svg>", page, flags=re.DOTALL)
    sizes = next(svg for svg in charts if "Where the" in svg)
    rects = [attrs for tag, attrs in parse(sizes).tags if tag == "rect"]
    widths = [float(r["width"] or 0) for r in rects]
    expected = [
        report.bytes - report.metadata_bytes,
        report.card_bytes,
        report.metadata_bytes - report.card_bytes,
    ]
    assert len(widths) == 3
    assert widths[0] / widths[1] == pytest.approx(expected[0] / expected[1], rel=0.02)
    assert widths[2] / widths[1] == pytest.approx(expected[2] / expected[1], rel=0.02)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-3, 3), min_size=2, max_size=12).map(sorted),
    st.data(),
)
def test_sketch_bins_keep_every_count_in_increasing_bins(edges: list[int], data: Any) -> None:
    counts = st.lists(st.integers(0, 50), min_size=len(edges) + 1, max_size=len(edges) + 1)
    series = [data.draw(counts), data.draw(counts)]
    bounds, kept, _ = _sketch_bins(edges, series)
    assert all(b > a for a, b in itertools.pairwise(bounds))
    for out, original in zip(kept, series, strict=True):
        assert len(out) == len(bounds) - 1
        assert sum(out) == sum(original)
    distribution_chart(bounds, kept[0], kept[1])  # always drawable


def test_extreme_edges_still_draw_finite_charts() -> None:
    huge = 1.7e308
    grid = histogram_charts(["x"], [[-huge, 0.0, huge]], [[1, 2, 3, 1]], [[0, 1, 1, 5]])
    assert grid.count("<path") == 2
    assert "nan" not in grid.lower()
    assert "inf" not in grid.lower()


def test_histogram_charts_say_how_many_features_are_left_out() -> None:
    names = [f"f{j}" for j in range(15)]
    grid = histogram_charts(names, [[0, 1, 2]] * 15, [[0, 1, 1, 0]] * 15)
    assert grid.count("<svg") == 12
    assert "3 more features not drawn" in grid


# ---------------------------------------------------------------------------- notebook views
def test_histogram_view_has_a_row_and_a_chart_per_feature() -> None:
    from edgeml.drift import Histogram

    rng = np.random.default_rng(3)
    sketch = Histogram.fit({"heart_rate": rng.normal(70, 8, 300), "spo2": rng.normal(97, 1, 300)})
    sketch.update({"heart_rate": [200.0, float("nan")], "spo2": [97.0, 96.0]})
    view = sketch._repr_html_()
    parse(view)
    assert view.count("<svg") == 2
    assert "<td>heart_rate</td><td>301</td><td>0</td><td>1</td><td>1</td>" in view
    assert "&gt; " in view  # the open bin above the reference maximum is drawn


def test_drift_result_view_lists_the_decision_and_draws_the_bins() -> None:
    from edgeml.drift import chi2, ks, psi

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=400), rng.normal(0.5, size=400)
    view = psi(a, b)._repr_html_()
    parse(view)
    assert "<td>method</td><td>psi</td>" in view
    assert "<th>field</th><th>value</th>" in view
    assert "statistic &gt;= threshold" in view
    assert view.count("<svg") == 1
    ks_view = ks(a, b)._repr_html_()
    assert "p-value &lt; threshold" in ks_view
    assert "<svg" not in ks_view  # KS keeps no bins
    categories = chi2(np.array(["a", "b"] * 50), np.array(["a", "a", "b"] * 30))._repr_html_()
    assert categories.count("<svg") == 1
    assert ">a</text>" in categories  # each category is named under its bin
    assert ">b</text>" in categories


def test_detector_view_shows_parameters_and_state() -> None:
    from edgeml.drift import ADWIN, DDM

    stream = np.r_[np.zeros(500), np.ones(500)]
    detector = ADWIN()
    alarms = detector.update_many(stream)
    view = detector._repr_html_()
    parse(view)
    assert "<td>delta</td><td>parameter</td><td>0.002</td>" in view
    assert f"<td>n_seen</td><td>state</td><td>{stream.size}</td>" in view
    assert f"<td>n_detections</td><td>state</td><td>{alarms.size}</td>" in view
    assert f"<td>width</td><td>state</td><td>{detector.width}</td>" in view
    assert "<td>warning_detected</td>" in DDM()._repr_html_()
