"""compare / DriftReport: test choice, corrections, verdict rule, inputs and displays."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from edgeml.drift import DriftReport, adjust_pvalues, compare, ks, psi, wasserstein
from edgeml.errors import ConfigError, DataError

pytestmark = pytest.mark.compat


def tables(seed: int = 0, rows: int = 3000) -> tuple[dict, dict]:  # type: ignore[type-arg]
    gen = np.random.default_rng(seed)
    ref = {
        "calm": gen.normal(size=rows),
        "shifted": gen.normal(size=rows),
        "scaled": gen.normal(size=rows),
        "city": gen.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2]),
    }
    cur = {
        "calm": gen.normal(size=rows),
        "shifted": gen.normal(0.8, size=rows),
        "scaled": gen.normal(0.0, 3.0, size=rows),
        "city": gen.choice(["a", "b", "c", "d"], rows, p=[0.3, 0.3, 0.2, 0.2]),
    }
    return ref, cur


def test_default_picks_psi_and_chi2_and_matches_single_tests() -> None:
    ref, cur = tables()
    report = compare(ref, cur)
    assert [f.result.method for f in report.features] == ["psi", "psi", "psi", "chi2"]
    assert [f.kind for f in report.features] == ["numeric"] * 3 + ["categorical"]
    for name in ("calm", "shifted", "scaled"):
        assert report[name].result.statistic == pytest.approx(psi(ref[name], cur[name]).statistic)  # type: ignore[union-attr]
    assert report.drifted_features == ["shifted", "scaled", "city"]
    assert report.share == 0.75
    assert report.drifted  # 0.75 >= 0.5


def test_several_methods_first_decides_others_reported() -> None:
    ref, cur = tables(1)
    numeric = {k: v for k, v in ref.items() if k != "city"}
    current = {k: v for k, v in cur.items() if k != "city"}
    report = compare(numeric, current, numeric=("wasserstein", "ks", "psi"))
    for item in report.features:
        assert item.result.method == "wasserstein"
        assert [r.method for r in item.others] == ["ks", "psi"]
        single = wasserstein(numeric[item.feature], current[item.feature])
        assert item.result.statistic == pytest.approx(single.statistic, rel=1e-12)  # type: ignore[union-attr]
        ks_single = ks(numeric[item.feature], current[item.feature])
        assert item.others[0].statistic == ks_single.statistic  # type: ignore[union-attr]
        assert item.others[0].pvalue == pytest.approx(ks_single.pvalue, rel=1e-9)  # type: ignore[union-attr]
        assert item.others[0].details == ks_single.details  # type: ignore[union-attr]


def test_benjamini_hochberg_matches_scipy_and_bonferroni_closed_form() -> None:
    p = np.random.default_rng(3).uniform(0, 0.2, size=17)
    assert adjust_pvalues(p, "bh") == pytest.approx(stats.false_discovery_control(p, method="bh"))
    assert adjust_pvalues(p, "bonferroni") == pytest.approx(np.minimum(1, p * 17))
    assert adjust_pvalues(p, None).tolist() == p.tolist()


@pytest.mark.parametrize("correction", ["bh", "bonferroni", None])
def test_same_correction_for_flags_and_verdict(correction: str | None) -> None:
    # Trap seen in peers: correcting only the dataset verdict. Here every feature flag
    # uses the corrected p-value, and the share is computed from those same flags.
    gen = np.random.default_rng(5)
    ref = gen.normal(size=(400, 12))
    cur = gen.normal(size=(400, 12))
    cur[:, :3] += np.array([0.25, 0.2, 0.15])
    report = compare(ref, cur, numeric="ks", correction=correction, drift_share=0.2)
    raw = np.array([f.result.pvalue for f in report.features])
    expected = adjust_pvalues(raw, correction) < 0.05
    assert [f.drifted for f in report.features] == expected.tolist()
    assert [f.pvalue_adjusted for f in report.features] == pytest.approx(
        adjust_pvalues(raw, correction)
    )
    assert report.share == pytest.approx(expected.mean())
    assert report.drifted == (expected.mean() >= 0.2)


def test_bonferroni_flags_fewer_than_uncorrected() -> None:
    gen = np.random.default_rng(6)
    ref, cur = gen.normal(size=(300, 30)), gen.normal(size=(300, 30))
    cur[:, 0] += 0.3
    loose = compare(ref, cur, numeric="ks", correction=None)
    strict = compare(ref, cur, numeric="ks", correction="bonferroni")
    assert set(strict.drifted_features) <= set(loose.drifted_features)
    assert len(strict.drifted_features) <= len(loose.drifted_features)


def test_effect_size_default_does_not_flag_tiny_shift_on_large_sample() -> None:
    # A shift of 0.02 standard deviations on 200k rows: KS calls it significant, the
    # default PSI does not (its whole point as the default).
    gen = np.random.default_rng(7)
    ref, cur = gen.normal(size=(200_000, 1)), gen.normal(0.02, size=(200_000, 1))
    assert compare(ref, cur, numeric="ks").drifted
    assert not compare(ref, cur).drifted


def test_drift_share_rule_is_explicit() -> None:
    ref, cur = tables()
    assert compare(ref, cur, drift_share=0.75).drifted
    assert not compare(ref, cur, drift_share=0.8).drifted
    assert "share >= 0.8" in compare(ref, cur, drift_share=0.8).to_markdown()


def test_overrides_and_categorical_codes() -> None:
    gen = np.random.default_rng(8)
    ref = {"code": gen.integers(0, 4, 500), "x": gen.normal(size=500)}
    cur = {"code": gen.integers(0, 4, 500), "x": gen.normal(size=500)}
    report = compare(ref, cur, categorical_features=["code"], tests={"x": "js"})
    assert report["code"].kind == "categorical"
    assert report["code"].result.method == "chi2"
    assert report["x"].result.method == "js"
    with pytest.raises(ConfigError, match="numeric"):
        compare(ref, cur, numeric="t-test")
    with pytest.raises(DataError, match="no column named"):
        compare(ref, cur, tests={"nope": "ks"})


def test_numpy_and_pandas_inputs_agree() -> None:
    pd = pytest.importorskip("pandas")
    gen = np.random.default_rng(9)
    ref, cur = gen.normal(size=(500, 3)), gen.normal(0.3, size=(500, 3))
    arrays = compare(ref, cur, numeric=("psi", "ks"))
    frames = compare(
        pd.DataFrame(ref, columns=list("abc")),
        pd.DataFrame(cur, columns=list("abc")),
        numeric=("psi", "ks"),
    )
    assert [f.feature for f in arrays.features] == ["0", "1", "2"]
    assert [f.feature for f in frames.features] == ["a", "b", "c"]
    assert [f.result.statistic for f in arrays.features] == [
        f.result.statistic for f in frames.features
    ]
    mixed = pd.DataFrame({"n": gen.normal(size=50), "s": gen.choice(["x", "y"], 50)})
    assert [f.kind for f in compare(mixed, mixed).features] == ["numeric", "categorical"]


def test_outputs_json_markdown_html_repr() -> None:
    ref, cur = tables()
    report = compare(ref, cur)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["drifted"] is True
    assert data["drifted_features"] == ["shifted", "scaled", "city"]
    assert data["features"][3]["result"]["details"]["categories"] == ["a", "b", "c", "d"]
    markdown = report.to_markdown()
    assert markdown.startswith("drift: 3 of 4 features drifted")
    assert "| shifted | numeric | psi |" in markdown
    assert "<table>" in report._repr_html_()
    assert repr(report).startswith("DriftReport(drifted=True")
    assert report.worst(4)[-1].feature == "calm"  # the only feature that did not move
    assert isinstance(report, DriftReport)
    assert len(report) == 4


def test_plot_draws_worst_features() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ref, cur = tables()
    ax = compare(ref, cur).plot(k=3)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 3
    assert "calm" not in labels  # the least drifted feature is not among the worst 3


def test_bad_input() -> None:
    ref, cur = tables()
    with pytest.raises(DataError, match="different columns"):
        compare(ref, {k: v for k, v in cur.items() if k != "calm"} | {"other": cur["calm"]})
    dirty = dict(cur, calm=np.where(np.arange(3000) < 4, np.nan, cur["calm"]))
    with pytest.raises(DataError, match=r"Column 'calm' of current .* 4 NaN"):
        compare(ref, dirty)
    omitted = compare(ref, dirty, nan_policy="omit")
    assert omitted["calm"].result.details["n_current"] == 2996
    with pytest.raises(DataError, match="strings in one sample and numbers"):
        compare({"c": np.array(["a", "b"])}, {"c": np.array([1, 2])}, categorical_features=["c"])
    with pytest.raises(ConfigError, match="correction"):
        compare(ref, cur, correction="holm")
    with pytest.raises(ConfigError, match="drift_share"):
        compare(ref, cur, drift_share=0)
