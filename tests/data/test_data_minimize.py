"""minimize: table kinds, consent, retention, k-suppression, PII decisions, the report.

Expected outputs are worked out by hand on small tables (the reasoning is next to each
assertion); the keyed pseudonym is checked against RFC 4231's HMAC-SHA256 test vector
and k-anonymity against a pandas group-by (a peer implementation) where pandas exists.
"""

from __future__ import annotations

import copy
import datetime as dt
import json

import numpy as np
import pytest

from edgeml.data import (
    MinimizationReport,
    Policy,
    bins,
    coarsen_time,
    k_anonymity,
    l_diversity,
    minimize,
    pseudonymize,
    redact,
    round_to,
    top_k,
    truncate,
)
from edgeml.errors import ConfigError, DataError, PIIFoundError

pytestmark = pytest.mark.compat

KEY = b"0123456789abcdef0123456789abcdef"
UTC = dt.timezone.utc


def patients() -> dict[str, list]:
    return {
        "user_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
        "name": ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"],
        "age": [34, 36, 38, 52, 55, 71],
        "zip": ["94107", "94110", "94103", "10001", "10002", "60601"],
        "heart_rate": [61, 72, 80, 66, 90, 70],
        "note": ["ok", "call 415-555-0132", "fine", "a@b.org", "ok", "ok"],
        "consent": ["training", "training,research", "withdrawn", "research", None, "training"],
        "seen": ["2024-05-01T00:00:00+00:00"] * 5 + ["2020-01-01T00:00:00+00:00"],
    }


def typical_policy(**changes: object) -> Policy:
    fields: dict = {
        "keep": {
            "age": bins([0, 40, 60, 120]),
            "zip": truncate(3),
            "heart_rate": None,
            "note": redact(),
        },
        "pseudonymize": ["user_id"],
    }
    fields.update(changes)
    return Policy(**fields)


def test_undeclared_columns_are_dropped_and_listed_with_reasons() -> None:
    policy = typical_policy(purpose="training", consent_column="consent")
    table, report = minimize(patients(), policy, key=KEY)
    assert list(table) == ["age", "zip", "heart_rate", "note", "user_id"]
    assert report.columns_dropped == {
        "name": "not declared in the policy",
        "consent": "consent column (used to filter rows, not released)",
        "seen": "not declared in the policy",
    }
    assert report.columns_kept == ("heart_rate",)
    assert report.columns_pseudonymized == ("user_id",)
    assert set(report.columns_transformed) == {"age", "zip", "note"}


def test_consent_drops_withdrawn_and_other_purposes_and_counts_each() -> None:
    # consent: u1 training, u2 training+research, u3 withdrawn, u4 research only,
    # u5 missing (= no consent), u6 training -> keep u1, u2, u6.
    policy = typical_policy(purpose="training", consent_column="consent")
    table, report = minimize(patients(), policy, key=KEY)
    assert table["heart_rate"] == [61, 72, 70]
    assert report.rows_dropped == {"consent_withdrawn": 2, "no_consent_for_purpose": 1}
    assert (report.rows_in, report.rows_out) == (6, 3)


def test_consent_accepts_lists_and_rejects_booleans() -> None:
    data = {"x": [1, 2, 3], "consent": [["training"], ["research"], []]}
    policy = Policy(keep={"x": None}, purpose="training", consent_column="consent")
    table, _ = minimize(data, policy)
    assert table["x"] == [1]
    with pytest.raises(DataError, match=r"consent column 'consent' holds bool.*purposes"):
        minimize({"x": [1], "consent": [True]}, policy)


def test_retention_relative_to_now_and_clear_naive_aware_errors() -> None:
    policy = typical_policy(timestamp_column="seen", retention_days=365)
    now = dt.datetime(2024, 6, 1, tzinfo=UTC)
    table, report = minimize(patients(), policy, key=KEY, now=now)
    # u6 was seen 2020-01-01, more than 365 days before 2024-06-01.
    assert report.rows_dropped == {"retention": 1}
    assert len(table["age"]) == 5
    assert report.now == now.isoformat()
    with pytest.raises(DataError, match=r"aware timestamps but now=.*naive"):
        minimize(patients(), policy, key=KEY, now=dt.datetime(2024, 6, 1))
    naive = dict(patients(), seen=["2024-05-01"] * 6)
    with pytest.raises(DataError, match=r"naive timestamps.*pass now="):
        minimize(naive, policy, key=KEY)
    with pytest.raises(DataError, match=r"naive timestamps but now=.*aware"):
        minimize(naive, policy, key=KEY, now=now)
    mixed = dict(patients(), seen=["2024-05-01", *["2024-05-01T00:00:00+00:00"] * 5])
    with pytest.raises(DataError, match="mixes"):
        minimize(mixed, policy, key=KEY, now=now)


def test_retention_on_datetime64_and_missing_timestamps() -> None:
    seen = np.array(["2024-05-31", "NaT", "2023-01-01"], dtype="M8[D]")
    policy = Policy(keep={"x": None}, timestamp_column="seen", retention_days=30)
    table, report = minimize(
        {"x": np.array([1, 2, 3]), "seen": seen}, policy, now=dt.datetime(2024, 6, 1)
    )
    assert table["x"].tolist() == [1]
    assert report.rows_dropped == {"missing_timestamp": 1, "retention": 1}


def test_retention_judges_the_released_coarsened_time() -> None:
    # Seen 2024-05-02 10:00 is 30.6 days before now, but its released month is 2024-05-01,
    # 31 days before: judged on what is released, the row is (conservatively) dropped.
    policy = Policy(
        keep={"seen": coarsen_time("month")}, timestamp_column="seen", retention_days=30.8
    )
    data = {"seen": ["2024-05-02T10:00:00", "2024-05-20T00:00:00"]}
    table, report = minimize(data, policy, now=dt.datetime(2024, 6, 1, 0, 0))
    assert table["seen"] == []
    assert report.rows_dropped == {"retention": 2}


def test_k_suppression_removes_small_classes_and_reports_k() -> None:
    # age bands x zip3: (0-40, 941) x3, (40-60, 100) x2, (60-120, 606) x1.
    policy = typical_policy(quasi_identifiers=["age", "zip"], k=2)
    table, report = minimize(patients(), policy, key=KEY)
    assert table["zip"] == ["941", "941", "941", "100", "100"]
    assert report.rows_dropped == {"k_anonymity": 1}
    assert (report.k_required, report.k_achieved) == (2, 2)
    assert k_anonymity(table, ["age", "zip"]).k == 2
    policy3 = typical_policy(quasi_identifiers=["age", "zip"], k=3)
    table3, report3 = minimize(patients(), policy3, key=KEY)
    assert table3["zip"] == ["941"] * 3
    assert report3.rows_dropped == {"k_anonymity": 3}


def test_pii_in_a_column_kept_as_is_raises_unless_allowed() -> None:
    policy = Policy(keep={"note": None})
    with pytest.raises(PIIFoundError, match=r"column 'note'.*email, phone.*allow_pii=\['note'\]"):
        minimize(patients(), policy)
    table, report = minimize(patients(), Policy(keep={"note": None}, allow_pii=["note"]))
    assert table["note"] == patients()["note"]
    assert report.pii_allowed == ("note",)
    assert {f.pii_type for f in report.pii_findings} == {"email", "phone"}


def test_suspicious_column_name_kept_as_is_raises() -> None:
    with pytest.raises(PIIFoundError, match=r"column 'name'.*column name token 'name'"):
        minimize(patients(), Policy(keep={"name": None}))


def test_transforms_that_pass_values_through_are_checked_too() -> None:
    emails = {"contact": ["a@b.org"] * 5 + ["c@d.org"]}
    with pytest.raises(PIIFoundError, match="column 'contact'"):
        minimize(emails, Policy(keep={"contact": top_k(1)}))


def test_pseudonyms_match_rfc_4231_hmac_sha256() -> None:
    # RFC 4231 test case 1: key = 0x0b * 20, data "Hi There", HMAC-SHA256 =
    # b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7.
    (pseudonym,) = pseudonymize(["Hi There"], key=b"\x0b" * 20, length=64).tolist()
    assert pseudonym.endswith("_b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    (short,) = pseudonymize(["Hi There"], key=b"\x0b" * 20).tolist()
    assert short.endswith("_b0344c61d8db3853")


def test_key_is_required_checked_and_never_echoed() -> None:
    with pytest.raises(ConfigError, match="needs a secret key"):
        minimize(patients(), typical_policy())
    secret = "tiny-secret"
    with pytest.raises(ConfigError, match="at least 16 bytes") as caught:
        minimize(patients(), typical_policy(), key=secret)
    assert secret not in str(caught.value)
    _, report = minimize(patients(), typical_policy(), key=KEY)
    assert KEY.decode() not in json.dumps(report.to_dict())


@pytest.mark.parametrize(
    ("table", "policy", "error", "message"),
    [
        ({"a": []}, Policy(keep={"a": None}), DataError, "no rows"),
        ({"a": [1]}, Policy(keep={"b": None}), DataError, r"column\(s\) \['b'\].*has \['a'\]"),
        ({"a": [1], "b": [1, 2]}, Policy(keep={"a": None}), DataError, "different lengths"),
        ({"zip": [94107]}, Policy(keep={"zip": truncate(3)}), DataError, "column 'zip'"),
        ("not a table", Policy(keep={"a": None}), ConfigError, "DataFrame"),
        ([{"a": 1}, 5], Policy(keep={"a": None}), DataError, "record 1"),
        ({"a": [1]}, {"keep": {"a": None}}, ConfigError, "edgeml.data.Policy"),
    ],
)
def test_bad_input_gives_clear_errors(
    table: object, policy: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        minimize(table, policy)  # type: ignore[arg-type]


def test_nothing_is_half_applied_when_a_late_column_fails() -> None:
    data = patients()
    data["zip"] = [94107, 94110, 94103, 10001, 10002, 60601]  # integers: truncate rejects
    before = copy.deepcopy(data)
    with pytest.raises(DataError, match="column 'zip'"):
        minimize(data, typical_policy(), key=KEY)
    assert data == before


@pytest.mark.parametrize("kind", ["dict_lists", "dict_arrays", "records", "structured"])
def test_every_table_kind_comes_back_as_the_same_kind(kind: str) -> None:
    base = {"age": [34, 52, 71], "zip": ["94107", "10001", "60601"], "drop": [1, 2, 3]}
    if kind == "dict_lists":
        table = base
    elif kind == "dict_arrays":
        table = {"age": np.array(base["age"]), "zip": np.array(base["zip"]), "drop": np.arange(3)}
    elif kind == "records":
        table = [dict(zip(base, row, strict=True)) for row in zip(*base.values(), strict=True)]
    else:
        table = np.array(
            list(zip(*base.values(), strict=True)),
            dtype=[("age", "i8"), ("zip", "U5"), ("drop", "i8")],
        )
    before = copy.deepcopy(table)
    policy = Policy(keep={"age": bins([0, 50, 120]), "zip": truncate(2)})
    out, _ = minimize(table, policy)
    expected_age = ["[0, 50)", "[50, 120]", "[50, 120]"]
    expected_zip = ["94", "10", "60"]
    if kind == "records":
        assert out == [
            {"age": a, "zip": z} for a, z in zip(expected_age, expected_zip, strict=True)
        ]
        assert table == before
    elif kind == "structured":
        assert out.dtype.names == ("age", "zip")
        assert out["age"].tolist() == expected_age
        assert out["zip"].tolist() == expected_zip
        assert (table == before).all()
    else:
        assert list(out) == ["age", "zip"]
        assert list(out["age"]) == expected_age
        assert list(out["zip"]) == expected_zip
        assert isinstance(out["age"], list) == (kind == "dict_lists")
        assert all(np.array_equal(table[c], before[c]) for c in before)


def test_pandas_dataframe_in_and_out_with_aware_timestamps() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "age": [34, 52, 71, 30],
            "zip": ["94107", "10001", "60601", "94110"],
            "seen": pd.to_datetime(["2024-05-03 10:00"] * 3 + ["2020-01-01 00:00"], utc=True),
            "ssn": ["123-45-6789"] * 4,
        },
        index=["alice", "bob", "carol", "dave"],
    )
    before = frame.copy(deep=True)
    policy = Policy(
        keep={"age": bins([0, 50, 120]), "seen": coarsen_time("month")},
        timestamp_column="seen",
        retention_days=365,
    )
    out, report = minimize(frame, policy, now=dt.datetime(2024, 6, 1, tzinfo=UTC))
    pd.testing.assert_frame_equal(frame, before)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["age", "seen"]
    assert list(out.index) == [0, 1, 2]  # the index (names!) is not a declared column
    assert str(out["seen"].dt.tz) == "UTC"
    assert out["seen"].dt.day.tolist() == [1, 1, 1]
    assert report.rows_dropped == {"retention": 1}
    assert set(report.columns_dropped) == {"zip", "ssn"}


def test_k_anonymity_agrees_with_pandas_groupby() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 4, 500),
            "b": rng.choice(["x", "y", "z"], 500),
            "s": rng.integers(0, 3, 500),
        }
    )
    groups = frame.groupby(["a", "b"])
    assert k_anonymity(frame, ["a", "b"]).k == int(groups.size().min())
    assert k_anonymity(frame, ["a", "b"]).n_classes == groups.ngroups
    assert l_diversity(frame, ["a", "b"], "s").l == int(groups["s"].nunique().min())


def test_k_anonymity_and_l_diversity_by_hand() -> None:
    table = {
        "age": ["30s", "30s", "30s", "40s", "40s"],
        "zip": ["941", "941", "941", "100", "100"],
        "dx": ["flu", "flu", "cold", "flu", "flu"],
    }
    result = k_anonymity(table, ["age", "zip"])
    assert (result.k, result.n_classes, result.rows_below(3)) == (2, 2, 2)
    assert result.class_sizes == {2: 1, 3: 1}
    # rows in classes of size 2 and 3: 1 * 2 + 1 * 3
    assert result.rows_below(10) == 5
    with pytest.raises(ConfigError, match=r"'k' argument of AnonymityResult\.rows_below"):
        result.rows_below(11)  # classes of size 10 and more are not kept
    # class (30s, 941) has {flu, cold}; (40s, 100) only {flu}: l = 1.
    assert l_diversity(table, ["age", "zip"], "dx").l == 1
    with pytest.raises(DataError, match="no column"):
        k_anonymity(table, ["nope"])


def test_report_renders_and_serializes() -> None:
    policy = typical_policy(
        quasi_identifiers=["age", "zip"], k=2, purpose="training", consent_column="consent"
    )
    _, report = minimize(patients(), policy, key=KEY)
    assert isinstance(report, MinimizationReport)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["policy_hash"] == policy.policy_hash
    # consent keeps u1, u2 (age 30s, zip 941) and u6 (age 71, zip 606), alone in its class.
    assert data["rows_dropped"] == {
        "consent_withdrawn": 2,
        "no_consent_for_purpose": 1,
        "k_anonymity": 1,
    }
    markdown = report.to_markdown()
    assert "| name | dropped | not declared in the policy |" in markdown
    assert "consent does not cover the purpose" in markdown
    html = report._repr_html_()
    assert html.startswith("<table>")
    assert "pseudonymized" in html
    assert "rows 6 -> " in repr(report)


def test_output_never_shares_memory_with_the_input() -> None:
    table = {"hr": np.array([60, 70, 80]), "w": np.array([70.5, 80.2, 90.9])}
    out, _ = minimize(table, Policy(keep={"hr": None, "w": None}))
    out["hr"][0] = -1
    assert table["hr"][0] == 60
    assert not np.shares_memory(out["w"], table["w"])


def test_missing_identifiers_stay_missing_when_pseudonymized() -> None:
    ids = np.array([1.0, np.nan, 1.0])
    (first, missing, again) = pseudonymize(ids, key=KEY).tolist()
    assert missing is None
    assert first == again


@pytest.mark.parametrize("kind", ["columns", "records"])
def test_missing_numbers_stay_none_in_list_outputs(kind: str) -> None:
    # A numeric column with a gap is computed as float with NaN inside; the caller gave
    # None and must get None back, not a NaN that later arithmetic silently propagates.
    policy = Policy(keep={"a": round_to(1)})
    values = [1.2, None, 3.7]
    table = {"a": values} if kind == "columns" else [{"a": v} for v in values]
    out, _ = minimize(table, policy)
    column = out["a"] if kind == "columns" else [row["a"] for row in out]
    assert column == [1.0, None, 4.0]
