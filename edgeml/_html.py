"""Standalone HTML pages with inline SVG charts, for reports that leave the notebook.

A page written by :func:`write_page` opens in any browser without a server or a network:
the styles are inline, the charts are inline SVG, and a Content-Security-Policy forbids
scripts and every remote resource, so a report stays readable (and inert) when it is
mailed or archived. Reports build their ``save_html`` and ``_repr_html_`` from the same
fragments, so a notebook and a saved page show the same thing.

Examples
--------
>>> from edgeml._html import bar_chart, page
>>> svg = bar_chart(["age", "zip"], [0.05, 0.31], threshold=0.2, title="PSI")
>>> svg.startswith("<svg") and "age" in svg
True
>>> html = page("Drift report", [svg])
>>> html.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in html
True
"""

from __future__ import annotations

import html
import itertools
import math
import os
from collections.abc import Sequence
from pathlib import Path

from edgeml._io import atomic_write
from edgeml.errors import invalid_argument

__all__ = [
    "bar_chart",
    "category_chart",
    "chart_grid",
    "distribution_chart",
    "histogram_charts",
    "page",
    "write_page",
]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; color: #1f2328; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .3rem 0; }
.edgeml-charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.edgeml-charts figure { margin: 0; }
figcaption { font-size: .8rem; color: #57606a; }
.edgeml-note { font-size: .85rem; color: #57606a; }
footer { margin-top: 3rem; font-size: .8rem; color: #57606a; }
"""

# No scripts, no remote fetches: a saved report can be opened safely from anywhere.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_BLUE, _RED, _GREY, _INK = "#1f77b4", "#d62728", "#8c959f", "#1f2328"
_MAX_BARS = 200
_MAX_BINS = 500


def _number(value: float) -> str:
    return f"{value:.4g}"


def _text(x: float, y: float, label: str, *, anchor: str = "start", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{_INK}">{html.escape(label)}</text>'
    )


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{html.escape(title, quote=True)}">'
        f"<title>{html.escape(title)}</title>{''.join(body)}</svg>"
    )


def _finite(owner: str, name: str, values: Sequence[float]) -> list[float]:
    numbers = [float(v) for v in values]
    if not all(math.isfinite(v) for v in numbers):
        raise invalid_argument(owner, name, values, "finite numbers")
    return numbers


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    threshold: float | None = None,
    title: str = "",
    width: int = 520,
) -> str:
    """Draw horizontal bars as an inline SVG string.

    Bars at or past ``threshold`` are red, the others blue; the threshold is a dashed
    line. At most 200 bars are drawn (the caller chooses which).

    Parameters
    ----------
    labels : sequence of str
        One label per bar.
    values : sequence of float
        Non-negative, finite bar lengths.
    threshold : float, optional
        Decision boundary drawn as a dashed line.
    title : str, default ""
        Accessible title, shown above the bars.
    width : int, default 520
        Width in pixels.

    Returns
    -------
    str
        An ``<svg>`` element.

    Examples
    --------
    >>> svg = bar_chart(["a", "b"], [1.0, 3.0], threshold=2.0, title="severity")
    >>> svg.count("<rect"), "#d62728" in svg
    (2, True)
    """
    numbers = _finite("bar_chart", "values", values)
    if len(labels) != len(numbers) or len(numbers) > _MAX_BARS:
        raise invalid_argument(
            "bar_chart",
            "values",
            f"{len(numbers)} values for {len(labels)} labels",
            f"as many values as labels, at most {_MAX_BARS}",
        )
    if any(v < 0 for v in numbers):
        raise invalid_argument("bar_chart", "values", values, "non-negative numbers")
    label_width, row, top = 150.0, 20.0, 26.0
    plot = width - label_width - 60.0
    top_value = max([*numbers, threshold or 0.0, 1e-12])
    body = [_text(0, 14, title, size=13)] if title else []
    for i, (label, value) in enumerate(zip(labels, numbers, strict=True)):
        y = top + i * row
        colour = _RED if threshold is not None and value >= threshold else _BLUE
        length = plot * value / top_value
        body.append(_text(label_width - 6, y + 13, str(label)[:24], anchor="end"))
        body.append(
            f'<rect x="{label_width:.1f}" y="{y + 3:.1f}" width="{length:.1f}" '
            f'height="{row - 6:.1f}" fill="{colour}"/>'
        )
        body.append(_text(label_width + length + 4, y + 13, _number(value), size=10))
    height = top + row * len(numbers) + 8
    if threshold is not None:
        x = label_width + plot * threshold / top_value
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4:.1f}" x2="{x:.1f}" y2="{height - 4:.1f}" '
            f'stroke="{_INK}" stroke-dasharray="4 3"/>'
        )
    return _svg(width, height, title or "bar chart", body)


def distribution_chart(
    edges: Sequence[float],
    reference: Sequence[float],
    current: Sequence[float] | None = None,
    *,
    title: str = "",
    width: int = 300,
    height: int = 150,
    range_labels: tuple[str, str] | None = None,
    density: bool = False,
    bin_labels: Sequence[str] | None = None,
) -> str:
    """Draw one or two histograms over the same bins as an inline SVG string.

    Counts are normalised to proportions, so samples of different sizes compare; the
    reference is a grey filled area, the current sample a blue outline.

    Parameters
    ----------
    edges : sequence of float
        ``k + 1`` increasing, finite bin edges (at most 500 bins).
    reference : sequence of float
        ``k`` non-negative counts.
    current : sequence of float, optional
        ``k`` non-negative counts of a second sample.
    title : str, default ""
        Accessible title, shown above the chart.
    width, height : int
        Size in pixels.
    range_labels : tuple of str, optional
        Texts under the first and last bin instead of the outer edges (e.g. category
        names, or ``"< 0"`` for an open bin).
    density : bool, default False
        Draw bins at their true widths with heights ``share / width`` (the shape of a
        distribution binned at its quantiles); by default every bin is drawn equally
        wide with height ``share``, which shows how a sample fills a reference's
        quantile bins.
    bin_labels : sequence of str, optional
        One text per bin, drawn under its middle (shortened to fit) instead of the
        range labels, e.g. the categories of a few-valued feature.

    Returns
    -------
    str
        An ``<svg>`` element.

    Examples
    --------
    >>> svg = distribution_chart([0, 1, 2, 3], [5, 10, 5], [2, 8, 10], title="age")
    >>> svg.count("<path")
    2
    """
    bounds = _finite("distribution_chart", "edges", edges)
    k = len(bounds) - 1
    if k < 1 or k > _MAX_BINS or any(b <= a for a, b in itertools.pairwise(bounds)):
        raise invalid_argument(
            "distribution_chart", "edges", edges, f"2 to {_MAX_BINS + 1} increasing numbers"
        )
    series = [("reference", reference)] + ([("current", current)] if current is not None else [])
    shares: list[list[float]] = []
    for name, counts in series:
        numbers = _finite("distribution_chart", name, counts)
        if len(numbers) != k or any(c < 0 for c in numbers):
            raise invalid_argument(
                "distribution_chart", name, counts, f"{k} non-negative counts (one per bin)"
            )
        total = sum(numbers) or 1.0
        shares.append([c / total for c in numbers])
    top, bottom, left = 20.0, 18.0, 4.0
    plot_w, plot_h = width - 2 * left, height - top - bottom
    span = bounds[-1] - bounds[0]
    if density and math.isfinite(span):
        xs = [left + plot_w * (b - bounds[0]) / span for b in bounds]
        widths = [b - a for a, b in itertools.pairwise(bounds)]
        shares = [[s / w for s, w in zip(row, widths, strict=True)] for row in shares]
    else:
        xs = [left + plot_w * i / k for i in range(k + 1)]
    peak = max(max(s) for s in shares) or 1.0

    def path(values: list[float]) -> str:
        points = [f"M{left:.1f},{top + plot_h:.1f}"]
        for i, value in enumerate(values):
            y = top + plot_h * (1 - value / peak)
            points.append(f"L{xs[i]:.1f},{y:.1f}L{xs[i + 1]:.1f},{y:.1f}")
        points.append(f"L{left + plot_w:.1f},{top + plot_h:.1f}")
        return "".join(points)

    body = [_text(left, 13, title, size=12)] if title else []
    body.append(f'<path d="{path(shares[0])}Z" fill="{_GREY}" fill-opacity="0.45" stroke="none"/>')
    if len(shares) > 1:
        body.append(
            f'<path d="{path(shares[1])}" fill="none" stroke="{_BLUE}" stroke-width="1.5"/>'
        )
    if bin_labels is not None and len(bin_labels) == k:
        room = max(1, int((xs[1] - xs[0]) / 6))  # about 6 px per character at size 10
        for i, label in enumerate(bin_labels):
            middle = (xs[i] + xs[i + 1]) / 2
            body.append(_text(middle, height - 4, str(label)[:room], anchor="middle", size=10))
    else:
        low, high = range_labels or (_number(bounds[0]), _number(bounds[-1]))
        body.append(_text(left, height - 4, str(low)[:24], size=10))
        body.append(_text(width - left, height - 4, str(high)[:24], anchor="end", size=10))
    return _svg(width, height, title or "distribution", body)


def _sketch_bins(
    edges: Sequence[float], series: Sequence[Sequence[float]]
) -> tuple[list[float], list[list[float]], tuple[str, str]]:
    """Turn sketch bins (``below``, inner bins, ``above``) into strictly increasing bins.

    Zero-width inner bins (tied quantiles) join their left neighbour; the open bins
    below and above the edges are drawn, one mean bin width wide, only when a series
    has values there, and the axis then says ``< low`` / ``> high``.
    """
    bounds = [float(e) for e in edges]
    inner = [[float(c) for c in counts[1:-1]] for counts in series]
    kept_edges = [bounds[0]]
    kept: list[list[float]] = [[] for _ in series]
    pending = [0.0 for _ in series]  # zero-width bins before the first proper one
    for k in range(len(bounds) - 1):
        for s, counts in enumerate(inner):
            if bounds[k + 1] > kept_edges[-1]:
                kept[s].append(counts[k] + pending[s])
                pending[s] = 0.0
            elif kept[s]:
                kept[s][-1] += counts[k]
            else:
                pending[s] += counts[k]
        if bounds[k + 1] > kept_edges[-1]:
            kept_edges.append(bounds[k + 1])
    if len(kept_edges) == 1:  # a constant feature: one bin around its value
        kept_edges = [bounds[0] - 0.5, bounds[0] + 0.5]
        kept = [[p] for p in pending]
    step = (kept_edges[-1] - kept_edges[0]) / (len(kept_edges) - 1)
    if not (math.isfinite(step) and math.isfinite(abs(kept_edges[0]) + abs(kept_edges[-1]) + step)):
        kept_edges = [float(i) for i in range(len(kept_edges))]  # extreme values: bin ranks
        step = 1.0
    low, high = _number(bounds[0]), _number(bounds[-1])
    if any(float(counts[0]) > 0 for counts in series):
        kept_edges.insert(0, kept_edges[0] - step)
        for out, original in zip(kept, series, strict=True):
            out.insert(0, float(original[0]))
        low = f"< {low}"
    if any(float(counts[-1]) > 0 for counts in series):
        kept_edges.append(kept_edges[-1] + step)
        for out, original in zip(kept, series, strict=True):
            out.append(float(original[-1]))
        high = f"> {high}"
    return kept_edges, kept, (low, high)


def category_chart(
    categories: Sequence[object],
    reference: Sequence[float],
    current: Sequence[float] | None = None,
    *,
    title: str = "",
    limit: int = 60,
) -> str:
    """Draw category shares of one or two samples as an inline SVG string.

    Categories are ordered by their combined count, most frequent first; at most
    ``limit`` are drawn. Up to 12 are each named under their bin; with more, the first
    and last drawn are named.

    Parameters
    ----------
    categories : sequence
        Category values (shown as text).
    reference : sequence of float
        Counts per category.
    current : sequence of float, optional
        Counts of a second sample per category.
    title : str, default ""
        Accessible title, shown above the chart.
    limit : int, default 60
        Most categories drawn.

    Returns
    -------
    str
        An ``<svg>`` element.

    Examples
    --------
    >>> svg = category_chart(["a", "b", "c"], [5, 1, 3], [4, 2, 3], title="ward")
    >>> svg.count("<path"), all(f">{c}</text>" in svg for c in "abc")
    (2, True)
    """
    other = current if current is not None else [0.0] * len(reference)
    if not (len(categories) == len(reference) == len(other)) or not categories:
        raise invalid_argument(
            "category_chart", "reference", reference, "one count per category (at least one)"
        )
    order = sorted(range(len(categories)), key=lambda i: -(float(reference[i]) + float(other[i])))
    order = order[: max(1, limit)]
    return distribution_chart(
        list(range(len(order) + 1)),
        [reference[i] for i in order],
        [current[i] for i in order] if current is not None else None,
        title=title,
        range_labels=(str(categories[order[0]]), str(categories[order[-1]])),
        bin_labels=[str(categories[i]) for i in order] if len(order) <= 12 else None,
    )


def chart_grid(figures: Sequence[tuple[str, str]], *, hidden: int = 0, what: str = "") -> str:
    """Lay out ``(svg, caption)`` figures in a wrapping row; say how many were left out.

    Parameters
    ----------
    figures : sequence of (str, str)
        An ``<svg>`` element and a plain-text caption (escaped) each.
    hidden : int, default 0
        How many more figures exist but are not drawn.
    what : str, default ""
        What the figures show, for the note about hidden ones (e.g. ``"features"``).

    Returns
    -------
    str
        A ``<div class="edgeml-charts">`` fragment.

    Examples
    --------
    >>> grid = chart_grid([(bar_chart(["a"], [1.0]), "a")], hidden=3, what="features")
    >>> grid.count("<figure>"), "3 more features" in grid
    (1, True)
    """
    cells = "".join(
        f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"
        for svg, caption in figures
    )
    note = (
        f'<p class="edgeml-note">{hidden} more {html.escape(what or "charts")} not drawn '
        "(the tables list all of them).</p>"
        if hidden > 0
        else ""
    )
    return f'<div class="edgeml-charts">{cells}</div>{note}'


def histogram_charts(
    names: Sequence[str],
    edges: Sequence[Sequence[float]],
    reference: Sequence[Sequence[float]],
    current: Sequence[Sequence[float]] | None = None,
    *,
    limit: int = 12,
) -> str:
    """Draw per-feature distributions of histogram sketches (one chart per feature).

    The layout is that of :class:`edgeml.drift.Histogram`: ``bins + 1`` edges per
    feature and ``bins + 2`` counts (below the first edge, the inner bins, above the
    last edge). Bins are drawn at their true widths as densities; tied edges are
    merged; open bins are drawn only when they hold values, one mean bin width wide.

    Parameters
    ----------
    names : sequence of str
        Feature names.
    edges : sequence of sequences of float
        Non-decreasing edges per feature.
    reference : sequence of sequences of float
        Counts per feature (grey area).
    current : sequence of sequences of float, optional
        Counts of a second sample over the same bins (blue outline).
    limit : int, default 12
        Draw at most this many features (the first ones); a note gives the rest.

    Returns
    -------
    str
        A :func:`chart_grid` fragment.

    Examples
    --------
    >>> grid = histogram_charts(["age"], [[0, 1, 1, 2]], [[0, 3, 0, 5, 0]], [[1, 2, 0, 4, 2]])
    >>> grid.count("<svg"), "&lt; 0" in grid, "&gt; 2" in grid
    (1, True, True)
    """
    figures = []
    for j, name in enumerate(names[:limit]):
        series = [reference[j]] + ([current[j]] if current is not None else [])
        if any(len(counts) != len(edges[j]) + 1 for counts in series):
            raise invalid_argument(
                "histogram_charts", "reference", series, "len(edges) + 1 counts per feature"
            )
        bounds, counts, labels = _sketch_bins(edges[j], series)
        svg = distribution_chart(
            bounds,
            counts[0],
            counts[1] if current is not None else None,
            title=str(name),
            range_labels=labels,
            density=True,
        )
        totals = " vs ".join(f"{int(sum(float(c) for c in s)):,}" for s in series)
        figures.append((svg, f"{name}: {totals} values"))
    return chart_grid(figures, hidden=max(0, len(names) - limit), what="features")


def page(title: str, sections: Sequence[str], *, footer: str = "") -> str:
    """Wrap HTML fragments into a complete, self-contained page.

    Parameters
    ----------
    title : str
        Page title and heading (escaped).
    sections : sequence of str
        HTML fragments (tables, ``<svg>`` charts, ``<h2>`` headings), already escaped.
    footer : str, default ""
        A line of plain text at the bottom (escaped).

    Returns
    -------
    str
        ``<!DOCTYPE html>`` ... ``</html>``.

    Examples
    --------
    >>> "<h1>Card &amp; report</h1>" in page("Card & report", ["<p>hi</p>"])
    True
    """
    from edgeml import __version__  # the package root is initialised before any report

    note = html.escape(footer or f"Written by edgeml {__version__}.")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{''.join(sections)}<footer>{note}</footer>"
        "</body></html>\n"
    )


def write_page(path: str | os.PathLike[str], title: str, sections: Sequence[str]) -> Path:
    """Write :func:`page` to ``path`` atomically (UTF-8) and return the path.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, usually ending in ``.html``.
    title : str
        Page title.
    sections : sequence of str
        HTML fragments.

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> write_page(target, "Report", ["<p>ok</p>"]).read_text().count("<p>ok</p>")
    1
    """
    target = Path(path)
    atomic_write(target, page(title, sections).encode("utf-8"))
    return target
