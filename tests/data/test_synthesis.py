"""synthesize: public domain, policy, PII, ledger, tree recovery, seeds, bad input, report."""

from __future__ import annotations

import json

import dp_accounting
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeml.data import Policy, SynthesisReport, bins, round_to, synthesize, top_k, truncate
from edgeml.data.synthesis import synthesis_domain, zcdp_epsilon, zcdp_rho
from edgeml.errors import ConfigError, DataError, PrivacyBudgetExceeded
from edgeml.privacy.accounting import Ledger, dpsgd_event

COLORS = ["red", "green", "blue"]


def chain_table(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Four columns with planted dependencies a - b - c - d, plus identifiers."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, n).astype(float)
    band = (a // 25).astype(int)  # 4 bands
    b = np.array(COLORS)[np.where(rng.random(n) < 0.85, band % 3, rng.integers(0, 3, n))]
    c = np.where(rng.random(n) < 0.85, np.char.add("c-", b), "c-other")
    flip = rng.random(n) < 0.1
    d = np.where((c == "c-red") ^ flip, "yes", "no")
    return {
        "a": a,
        "b": b,
        "c": c,
        "d": d,
        "email": np.array([f"person{i}@example.com" for i in range(n)]),
        "user": np.array([f"u{i}" for i in range(n)]),
    }


POLICY = Policy(keep={"a": bins([0, 25, 50, 75, 100]), "b": None, "c": None, "d": None})
DOMAINS = {"b": COLORS, "c": ["c-red", "c-green", "c-blue", "c-other"], "d": ["no", "yes"]}


def run(table=None, policy=POLICY, **kwargs):
    options = {"epsilon": 10.0, "delta": 1e-6, "seed": 0, "domains": DOMAINS, **kwargs}
    return synthesize(chain_table(3000) if table is None else table, policy, **options)


def test_tree_recovers_planted_edges_at_high_epsilon() -> None:
    _synthetic, report = run(table=chain_table(5000), target="d")
    assert {frozenset(e) for e in report.tree} == {
        frozenset(("a", "b")),
        frozenset(("b", "c")),
        frozenset(("c", "d")),
    }
    q = report.quality
    assert q is not None
    assert q.tvd_two_way_mean < 0.05
    # d is a near-copy of c == "c-red": trained on synthetic rows, it is still predictable
    assert q.tstr_accuracy is not None
    assert q.majority_accuracy is not None
    assert q.tstr_accuracy > q.majority_accuracy + 0.1
    assert abs(report.rows_out - 5000) < 100  # a noisy count by default


def test_output_follows_the_policy_and_never_holds_planted_pii() -> None:
    table = chain_table(2000)
    table["b"][7] = "alice@example.com"  # PII inside a declared column, outside its domain
    with pytest.raises(DataError) as caught:
        run(table=table)
    assert "alice" not in str(caught.value)  # the message never echoes values
    assert "outside its declared categories" in str(caught.value)
    table["b"][7] = "red"
    policy = Policy(keep=dict(POLICY.keep), pseudonymize=["user"])
    synthetic, report = run(table=table, policy=policy, n_rows=500)
    assert list(synthetic) == ["a", "b", "c", "d"]  # keep columns only; no email, no user
    values = {v for column in synthetic.values() for v in np.asarray(column).tolist()}
    allowed = set(POLICY.keep["a"].labels) | {v for d in DOMAINS.values() for v in d} | {None}
    assert values <= allowed
    assert not any("@" in str(v) or str(v) in set(table["user"]) for v in values)
    assert report.domain.omitted == {"user": "pseudonymized identifier: a synthetic row is no one"}


def test_policy_row_filters_apply_before_synthesis() -> None:
    table = chain_table(1000)
    table["consent"] = np.array(["withdrawn"] * 1000, dtype=object)
    policy = Policy(keep=dict(POLICY.keep), purpose="research", consent_column="consent")
    with pytest.raises(DataError, match="no row is left"):
        run(table=table, policy=policy)


@settings(max_examples=5)
@given(row=st.integers(0, 399), value=st.floats(0, 100), color=st.sampled_from(COLORS))
def test_domain_and_candidates_never_depend_on_the_data(row: int, value: float, color: str) -> None:
    table = chain_table(400, seed=1)
    changed = {k: v.copy() for k, v in table.items()}
    changed["a"][row], changed["b"][row] = value, color
    _, first = run(table=table, quality=False)
    _, second = run(table=changed, quality=False)
    assert first.domain == second.domain == synthesis_domain(POLICY, domains=DOMAINS)
    assert first.domain.candidate_pairs == second.domain.candidate_pairs
    assert first.domain.candidate_pairs == (
        ("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d"),
    )  # fmt: skip


def test_seed_reproduces_and_changes_the_sample() -> None:
    one, _ = run(n_rows=300, quality=False)
    two, _ = run(n_rows=300, quality=False)
    three, _ = run(n_rows=300, quality=False, seed=1)
    assert all(np.array_equal(one[k], two[k]) for k in one)
    assert any(not np.array_equal(one[k], three[k]) for k in one)


def test_ledger_is_charged_like_dp_accounting() -> None:
    ledger = Ledger(delta=1e-6)
    training = dpsgd_event(noise_multiplier=1.1, sampling_rate=0.01, steps=1000)
    ledger.record(name="training", event=training)
    _, report = run(epsilon=2.0, ledger=ledger, quality=False)
    assert [e.name for e in ledger.entries] == ["training", "synthesize"]
    assert report.guarantee.epsilon <= 2.0
    rho = zcdp_rho(2.0, 1e-6)
    reference = dp_accounting.rdp.RdpAccountant()
    reference.compose(training).compose(dp_accounting.ZCDpEvent(rho))
    assert ledger.spent().epsilon == pytest.approx(reference.get_epsilon(1e-6), rel=1e-6)
    saved = Ledger.from_dict(json.loads(json.dumps(ledger.to_dict())))  # zCDP events persist
    assert saved.spent().epsilon == pytest.approx(ledger.spent().epsilon)


def test_ledger_refusal_releases_nothing() -> None:
    ledger = Ledger(delta=1e-6, budget=1.0)
    with pytest.raises(PrivacyBudgetExceeded):
        run(epsilon=2.0, ledger=ledger)
    assert len(ledger) == 0


def test_pld_ledger_uses_the_stated_guarantee() -> None:
    # PLD cannot read zCDP events: the ledger composes the stated (epsilon, delta), whose
    # delta must leave room inside the ledger's own
    ledger = Ledger(delta=1e-5, accountant="pld")
    _, report = run(epsilon=1.5, ledger=ledger, quality=False)
    assert ledger.spent().epsilon == pytest.approx(zcdp_epsilon(zcdp_rho(1.5, 1e-6), 1e-6))
    assert report.guarantee.epsilon == pytest.approx(1.5, rel=1e-6)


def test_pandas_in_pandas_out() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(chain_table(1500))
    synthetic, _ = run(table=frame, n_rows=100, quality=False)
    assert isinstance(synthetic, pd.DataFrame)
    assert list(synthetic.columns) == ["a", "b", "c", "d"]
    assert len(synthetic) == 100


def test_missing_values_are_a_declared_category() -> None:
    table = chain_table(3000)
    table["b"] = table["b"].astype(object)
    table["b"][:1500] = None  # half missing: the None category carries signal
    synthetic, report = run(table=table, n_rows=2000, quality=False)
    assert report.domain.columns[1].categories == ("red", "green", "blue", None)
    share = np.mean([v is None for v in synthetic["b"]])
    assert 0.4 < share < 0.6
    with pytest.raises(DataError, match="missing values"):
        run(table=table, missing="refuse")


def test_top_k_needs_declared_categories_and_maps_others() -> None:
    table = chain_table(3000)
    policy = Policy(keep={"a": bins([0, 50, 100]), "b": top_k(2), "d": None})
    with pytest.raises(ConfigError, match="top_k picks its categories from the data"):
        run(table=table, policy=policy, domains={"d": ["no", "yes"]})
    synthetic, report = run(
        table=table, policy=policy, domains={"b": ["red"], "d": ["no", "yes"]}, quality=False
    )
    assert report.domain.columns[1].categories == ("red", "other", None)
    assert set(synthetic["b"]) <= {"red", "other", None}


def test_transforms_with_declared_categories() -> None:
    table = {"zip": ["94107", "94110", "10001"] * 400, "x": [1.2, 3.4, 5.6] * 400}
    policy = Policy(keep={"zip": truncate(3), "x": round_to(2)})
    synthetic, _ = synthesize(
        table,
        policy,
        epsilon=5.0,
        delta=1e-6,
        seed=0,
        domains={"zip": ["941", "100"], "x": [0.0, 2.0, 4.0, 6.0]},
        quality=False,
    )
    assert set(synthetic["zip"]) <= {"941", "100", None}
    assert set(synthetic["x"]) <= {0.0, 2.0, 4.0, 6.0, None}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"table": {k: v[:0] for k, v in chain_table(10).items()}}, DataError, "no rows"),
        ({"n_rows": 0}, ConfigError, "'n_rows' argument of synthesize"),
        ({"epsilon": 0.0}, ConfigError, "'epsilon' argument of synthesize"),
        ({"delta": 0.0}, ConfigError, "'delta' argument of synthesize"),
        ({"seed": "x"}, ConfigError, "'seed' argument of synthesize"),
        ({"target": "email"}, ConfigError, "'target' argument of synthesize"),
        ({"domains": {"a": ["x", "y"]}}, ConfigError, "bin labels"),
        ({"domains": {"b": COLORS}}, ConfigError, "column 'c' has no public domain"),
        ({"domains": {**DOMAINS, "d": ["yes"]}}, ConfigError, "single category"),
        ({"domains": {**DOMAINS, "zz": [1, 2]}}, ConfigError, "does not keep"),
        (
            {"policy": Policy(keep={"a": bins([0, 100]), "b": None}), "domains": {"b": COLORS}},
            ConfigError,
            "single category",
        ),
        (
            {"policy": Policy(keep={"b": None}), "domains": {"b": COLORS}},
            ConfigError,
            "needs at least two",
        ),
        ({"missing": "drop"}, ConfigError, "'missing' argument"),
        ({"max_categories": 3}, ConfigError, "more than max_categories=3"),
    ],
)
def test_bad_input_is_refused_with_a_fix(kwargs, error, match) -> None:
    with pytest.raises(error, match=match) as caught:
        run(**kwargs)
    assert "Fix:" in str(caught.value)


def test_epsilon_too_small_says_the_expected_error() -> None:
    with pytest.raises(ConfigError, match="too small") as caught:
        run(table=chain_table(200), epsilon=0.01)
    message = str(caught.value)
    assert "standard deviation" in message
    assert "Fix:" in message


def test_report_keeps_quality_out_of_the_release() -> None:
    _, report = run(target="d")
    assert isinstance(report, SynthesisReport)
    released = report.to_release_dict()
    assert "quality" not in released
    text = json.dumps(released)
    assert "tvd" not in text
    assert "dcr" not in text
    assert "accuracy" not in text
    full = json.loads(json.dumps(report.to_dict()))
    assert full["quality"]["caveat"].startswith("Computed on the real table")
    assert full["tree"] == [list(e) for e in report.tree]
    assert full["guarantee"]["delta"] == 1e-6
    assert repr(report).startswith("SynthesisReport(epsilon=10")
    assert "not private" in report._repr_html_()


def test_records_in_records_out() -> None:
    table = chain_table(1500)
    records = [{k: v[i] for k, v in table.items()} for i in range(1500)]
    synthetic, report = run(table=records, n_rows=4, quality=False)
    assert isinstance(synthetic, list)
    assert len(synthetic) == report.rows_out == 4
    assert all(sorted(row) == ["a", "b", "c", "d"] for row in synthetic)
