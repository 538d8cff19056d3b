"""What :func:`~edgeml.drift.compare` returns: per-feature results and one verdict.

:class:`DriftReport` holds one :class:`FeatureDrift` per column and the dataset rule
(``share >= drift_share``), and shows itself as a Markdown or HTML table, a standalone
HTML page with charts, or a matplotlib plot.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml._html import bar_chart, chart_grid, write_page
from edgeml._optional import require
from edgeml.drift._result import DriftResult, binned, binned_chart

__all__ = ["DriftReport", "FeatureDrift"]


@dataclass(frozen=True, repr=False)
class FeatureDrift:
    """The outcome for one feature of a :class:`DriftReport`.

    Attributes
    ----------
    feature : str
        Column name.
    kind : {"numeric", "categorical"}
    result : DriftResult
        The deciding test; its ``drifted`` already applies the report's correction.
    others : tuple of DriftResult
        Further statistics requested for this feature (they do not decide).
    pvalue_adjusted : float or None
        The corrected p-value when the deciding test has a p-value.
    """

    feature: str
    kind: str
    result: DriftResult
    others: tuple[DriftResult, ...] = ()
    pvalue_adjusted: float | None = None

    @property
    def drifted(self) -> bool:
        """Whether this feature drifted (after correction)."""
        return self.result.drifted

    @property
    def distribution(self) -> dict[str, list[Any]] | None:
        """The binned samples behind the decision, for plots; ``None`` when not kept.

        Numeric features: ``edges`` (the report's reference-quantile edges) and
        ``reference_counts`` / ``current_counts`` in ``bins + 2`` bins (below the first
        edge, the inner bins, above the last). Categorical features: ``categories`` and
        the two count lists. Read from the deciding result's ``details``, where
        :func:`~edgeml.drift.compare` stores them (a few numbers per feature).

        Examples
        --------
        >>> import numpy as np
        >>> from edgeml.drift import compare
        >>> ref, cur = {"age": np.arange(100.0)}, {"age": np.arange(100.0) + 50}
        >>> binned = compare(ref, cur, bins=4)["age"].distribution
        >>> binned["edges"], binned["reference_counts"], binned["current_counts"]
        ([0.0, 24.75, 49.5, 74.25, 99.0], [0, 25, 25, 25, 25, 0], [0, 0, 0, 25, 25, 50])
        """
        return binned(self.result.details)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict.

        Returns
        -------
        dict
        """
        return {
            "feature": self.feature,
            "kind": self.kind,
            "drifted": self.drifted,
            "pvalue_adjusted": to_jsonable(self.pvalue_adjusted),
            "result": self.result.to_dict(),
            "others": [r.to_dict() for r in self.others],
        }

    def __repr__(self) -> str:
        result = self.result
        return (
            f"FeatureDrift({self.feature!r}, {result.method}={result.statistic:.4g}, "
            f"drifted={self.drifted})"
        )


@dataclass(frozen=True, repr=False)
class DriftReport:
    """Per-feature drift results and one dataset verdict.

    The verdict: the dataset drifted when ``share >= drift_share``, where ``share`` is the
    fraction of features whose deciding test flags drift. p-value tests (``ks``,
    ``chi2``) are corrected for the number of p-value tests in the report, and the same
    corrected flags give both the per-feature decisions and the share.

    Attributes
    ----------
    features : tuple of FeatureDrift
    correction : {"bh", "bonferroni"} or None
    alpha : float
        Family-wise (Bonferroni) or false-discovery (BH) level for p-value tests.
    drift_share : float
    n_reference, n_current : int
        Rows in each sample.
    """

    features: tuple[FeatureDrift, ...]
    correction: str | None
    alpha: float
    drift_share: float
    n_reference: int
    n_current: int
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features that drifted."""
        return [f.feature for f in self.features if f.drifted]

    @property
    def share(self) -> float:
        """Fraction of features that drifted."""
        return len(self.drifted_features) / len(self.features)

    @property
    def drifted(self) -> bool:
        """The dataset verdict: ``share >= drift_share``."""
        return self.share >= self.drift_share

    def __getitem__(self, feature: str) -> FeatureDrift:
        for item in self.features:
            if item.feature == feature:
                return item
        raise KeyError(feature)

    def __len__(self) -> int:
        return len(self.features)

    def worst(self, k: int = 10) -> list[FeatureDrift]:
        """Return the ``k`` features furthest past (or closest to) their thresholds.

        Features are ranked by ``statistic / threshold`` for effect sizes and by
        ``alpha / adjusted p-value`` for p-value tests, so 1 is the decision boundary.

        Parameters
        ----------
        k : int, default 10

        Returns
        -------
        list of FeatureDrift
        """
        return sorted(self.features, key=_severity, reverse=True)[:k]

    def _rows(self) -> list[list[Any]]:
        rows = []
        for item in self.features:
            result = item.result
            extra = ", ".join(f"{r.method}={r.statistic:.4g}" for r in item.others)
            rows.append(
                [
                    item.feature,
                    item.kind,
                    result.method,
                    result.statistic,
                    item.pvalue_adjusted,
                    result.threshold,
                    item.drifted,
                    extra,
                ]
            )
        return rows

    _HEADERS = (
        "feature",
        "kind",
        "method",
        "statistic",
        "p (adjusted)",
        "threshold",
        "drifted",
        "also",
    )

    def _summary(self) -> str:
        verdict = "drift" if self.drifted else "no drift"
        return (
            f"{verdict}: {len(self.drifted_features)} of {len(self.features)} features drifted "
            f"(share {self.share:.3g}, rule: share >= {self.drift_share:g}; "
            f"correction {self.correction or 'none'} at alpha {self.alpha:g})"
        )

    def to_markdown(self) -> str:
        """Return the summary line and one table row per feature.

        Returns
        -------
        str
        """
        return self._summary() + "\n\n" + markdown_table(list(self._HEADERS), self._rows())

    def _html_sections(self, charts: int = 12) -> list[str]:
        ranked = self.worst(len(self.features))  # one sort for the bars and the charts
        worst = ranked[:30]
        which = "per feature" if len(worst) == len(self) else f"of the {len(worst)} worst features"
        parts = [
            html_table(list(self._HEADERS), self._rows(), caption=self._summary()),
            bar_chart(
                [f.feature for f in worst],
                [s if s < _SEVERITY_CAP else _SEVERITY_CAP for s in map(_severity, worst)],
                threshold=1.0,
                title=f"Severity {which} (1 = drift boundary, capped at {_SEVERITY_CAP:g})",
            ),
        ]
        plotted = [f for f in ranked if f.distribution is not None]
        figures = [_distribution_figure(f) for f in plotted[:charts]]
        if figures:
            parts.append("<h2>Reference (grey) and current (blue) distributions</h2>")
            parts.append(chart_grid(figures, hidden=len(plotted) - len(figures), what="features"))
        return parts

    def _repr_html_(self) -> str:
        return "".join(self._html_sections())

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as a standalone HTML page (inline styles and charts).

        The page holds what a notebook shows: the verdict, one row per feature, the
        severity of the worst features (1 = decision boundary) and the reference and
        current distributions of the worst 12 features. It opens in a browser without a
        server, runs no script and loads nothing from the network. Written atomically.

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
        >>> from edgeml.drift import compare
        >>> rng = np.random.default_rng(0)
        >>> report = compare({"age": rng.normal(40, 10, 500)}, {"age": rng.normal(48, 10, 500)})
        >>> page = report.save_html(pathlib.Path(tempfile.mkdtemp()) / "drift.html")
        >>> text = page.read_text()
        >>> "<svg" in text and "age" in text
        True
        """
        return write_page(path, "Drift report", self._html_sections())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict with the verdict, the rule and every feature.

        Returns
        -------
        dict
        """
        return {
            "drifted": self.drifted,
            "share": self.share,
            "drift_share": self.drift_share,
            "correction": self.correction,
            "alpha": self.alpha,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "drifted_features": self.drifted_features,
            "settings": to_jsonable(dict(self.settings)),
            "features": [f.to_dict() for f in self.features],
        }

    def __repr__(self) -> str:
        return (
            f"DriftReport(drifted={self.drifted}, share={self.share:.3g}, "
            f"features={len(self.features)}, drifted_features={self.drifted_features[:5]}"
            f"{'...' if len(self.drifted_features) > 5 else ''})"
        )

    def plot(self, k: int = 10, *, ax: Any = None) -> Any:
        """Draw the ``k`` worst features as horizontal bars (needs matplotlib).

        Bars show the severity used by :meth:`worst` (1 = decision boundary, dashed).

        Parameters
        ----------
        k : int, default 10
        ax : matplotlib.axes.Axes, optional
            Drawn into a new figure when omitted.

        Returns
        -------
        matplotlib.axes.Axes
        """
        plt = require("matplotlib.pyplot", extra="dev", feature="DriftReport.plot")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.4 * min(k, len(self.features)) + 1))
        worst = self.worst(k)[::-1]
        colors = ["tab:red" if f.drifted else "tab:blue" for f in worst]
        ax.barh([f.feature for f in worst], [_severity(f) for f in worst], color=colors)
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_xlabel("severity (statistic / threshold; 1 = drift boundary)")
        ax.set_title(self._summary().split(":")[0] + f" ({len(self.drifted_features)} drifted)")
        return ax


_SEVERITY_CAP = 10.0


def _distribution_figure(item: FeatureDrift) -> tuple[str, str]:
    """One feature's reference and current distributions as ``(svg, caption)``."""
    data = item.distribution
    assert data is not None
    caption = f"{item.feature}: {item.result.method} {item.result.statistic:.4g}"
    return binned_chart(data, item.feature), caption + (" (drifted)" if item.drifted else "")


def _severity(item: FeatureDrift) -> float:
    result = item.result
    if item.pvalue_adjusted is not None:
        return float(result.threshold / max(item.pvalue_adjusted, 1e-300))
    return float(result.statistic / result.threshold)
