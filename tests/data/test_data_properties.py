"""Property tests for minimize: what must hold for every table and every policy.

Planted PII is generated valid by construction: card numbers get their Luhn check digit,
IBANs their ISO 7064 mod-97 check digits, SSNs an issued area/group/serial, phones the
E.164 or a common national layout.
"""

from __future__ import annotations

import copy
import datetime as dt
import string

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from edgeml.data import Policy, bins, minimize, redact, round_to, top_k, truncate
from edgeml.data.pii import scan_values

pytestmark = pytest.mark.compat

WORDS = st.sampled_from(
    ["the", "order", "was", "shipped", "please", "call", "me", "about", "my", "account", "thanks"]
)
DIGIT = st.sampled_from(string.digits)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.lists(DIGIT, min_size=n, max_size=n).map("".join)


def luhn_complete(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    number = luhn_complete(draw(st.sampled_from("3456")) + draw(digits(14)))
    separator = draw(st.sampled_from(["", " ", "-"]))
    return separator.join(number[i : i + 4] for i in range(0, 16, 4))


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country, length = draw(st.sampled_from([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18)]))
    bban = draw(digits(length - 4))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    compact = f"{country}{check:02d}{bban}"
    if draw(st.booleans()):
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


@st.composite
def ssns(draw: st.DrawFn) -> str:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    return f"{area:03d}-{draw(st.integers(1, 99)):02d}-{draw(st.integers(1, 9999)):04d}"


@st.composite
def phones(draw: st.DrawFn) -> str:
    layout = draw(st.sampled_from(["e164", "us_paren", "us_dash", "uk", "fr"]))
    if layout == "e164":
        country = draw(st.sampled_from(["1", "33", "44", "49", "353"]))
        return f"+{country} {draw(digits(3))} {draw(digits(3))} {draw(digits(4))}"
    area = draw(st.integers(201, 989))
    if layout == "us_paren":
        return f"({area}) {draw(digits(3))}-{draw(digits(4))}"
    if layout == "us_dash":
        return f"{area}-{draw(digits(3))}-{draw(digits(4))}"
    if layout == "fr":
        pairs = " ".join(draw(digits(2)) for _ in range(4))
        return f"0{draw(st.integers(1, 9))} {pairs}"
    return f"0{draw(digits(2))} {draw(digits(4))} {draw(digits(4))}"


emails = st.builds(
    lambda user, domain, tld: f"{user}@{domain}.{tld}",
    st.text(string.ascii_lowercase + string.digits + "._+", min_size=1, max_size=12).filter(
        lambda u: u[0] not in "._+"
    ),
    st.text(string.ascii_lowercase, min_size=1, max_size=10),
    st.sampled_from(["com", "org", "io", "co.uk"]),
)
PII = st.one_of(emails, phones(), card_numbers(), ibans(), ssns())


@st.composite
def notes_with_pii(draw: st.DrawFn) -> tuple[str, str]:
    planted = draw(PII)
    before = " ".join(draw(st.lists(WORDS, max_size=4)))
    after = " ".join(draw(st.lists(WORDS, max_size=4)))
    punctuation = draw(st.sampled_from(["", ".", ",", "!"]))
    return f"{before} {planted}{punctuation} {after}".strip(), planted


@given(st.lists(notes_with_pii(), min_size=1, max_size=20), st.data())
def test_no_planted_pii_survives_redaction_or_pseudonymization(
    notes: list[tuple[str, str]], data: st.DataObject
) -> None:
    contacts = [data.draw(PII) for _ in notes]
    table = {"note": [n for n, _ in notes], "contact": contacts, "user_id": contacts}
    policy = Policy(keep={"note": redact()}, pseudonymize=["contact", "user_id"])
    out, _ = minimize(table, policy, key=b"k" * 32)
    released = " | ".join(str(v) for column in out.values() for v in column)
    for _, planted in notes:
        assert planted not in released
    for contact in contacts:
        assert contact not in released
    assert scan_values(np.array(out["note"], dtype=object)) == []


column_names = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)


@given(
    st.dictionaries(
        column_names, st.lists(st.integers(0, 100), min_size=3, max_size=3), min_size=1, max_size=8
    ),
    st.data(),
)
def test_undeclared_columns_never_appear(table: dict[str, list[int]], data: st.DataObject) -> None:
    declared = data.draw(st.lists(st.sampled_from(sorted(table)), min_size=1, unique=True))
    policy = Policy(keep={c: round_to(10) for c in declared})
    out, report = minimize(table, policy)
    assert set(out) == set(declared)
    assert set(report.columns_dropped) == set(table) - set(declared)


@given(
    st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=20),
    st.binary(min_size=16, max_size=40),
    st.binary(min_size=16, max_size=40),
)
def test_same_key_same_pseudonyms_different_keys_different(
    ids: list[str], key_a: bytes, key_b: bytes
) -> None:
    assume(key_a != key_b)
    policy = Policy(keep={"n": None}, pseudonymize=["id"])
    table = {"id": ids, "n": list(range(len(ids)))}
    first, _ = minimize(table, policy, key=key_a)
    again, _ = minimize(table, policy, key=key_a)
    other, _ = minimize(table, policy, key=key_b)
    assert first["id"] == again["id"]
    # equal ids map to equal pseudonyms, distinct ids to distinct ones
    assert len(set(first["id"])) == len(set(ids))
    assert all(a != b for a, b in zip(first["id"], other["id"], strict=True))


ages = st.one_of(st.none(), st.integers(0, 119))
zips = st.text(string.digits, min_size=5, max_size=5)
records = st.lists(
    st.fixed_dictionaries(
        {
            "user_id": st.integers(0, 30),
            "age": ages,
            "zip": zips,
            "weight": st.floats(30, 150, allow_nan=False),
            "city": st.sampled_from(["Lyon", "Oslo", "Kyiv", "Lima", "Pune"]),
            "note": notes_with_pii().map(lambda pair: pair[0]),
            "secret": st.text(max_size=5),
        }
    ),
    min_size=1,
    max_size=30,
)


def full_policy(k: int | None) -> Policy:
    return Policy(
        keep={
            "age": bins([0, 30, 60, 120]),
            "zip": truncate(2),
            "weight": round_to(5),
            "city": top_k(2),
            "note": redact(),
        },
        pseudonymize=["user_id"],
        quasi_identifiers=["age", "zip"] if k else [],
        k=k,
    )


@given(records, st.sampled_from([None, 2, 3]))
def test_input_unchanged_and_minimize_idempotent_on_its_output(
    table: list[dict], k: int | None
) -> None:
    before = copy.deepcopy(table)
    policy = full_policy(k)
    out, report = minimize(table, policy, key=b"s" * 16)
    assert table == before
    assume(report.rows_out > 0)
    again, second = minimize(out, policy, key=b"s" * 16)
    assert again == out
    assert second.rows_dropped == {}


@given(records, st.integers(2, 6))
def test_output_is_k_anonymous_over_its_quasi_identifiers(table: list[dict], k: int) -> None:
    from edgeml.data import k_anonymity

    out, report = minimize(table, full_policy(k), key=b"s" * 16)
    if report.rows_out:
        assert k_anonymity(out, ["age", "zip"]).k >= k
        assert report.k_achieved is not None
        assert report.k_achieved >= k
    assert report.rows_in - report.rows_out == sum(report.rows_dropped.values())


consents = st.one_of(
    st.none(),
    st.sampled_from(["training", "research", "withdrawn", "", "training;research"]),
    st.lists(st.sampled_from(["training", "research", "ads"]), max_size=3),
)


@given(st.lists(st.tuples(consents, st.integers(0, 400)), min_size=1, max_size=30))
def test_only_rows_consenting_to_the_purpose_and_within_retention_survive(
    rows: list[tuple[object, int]],
) -> None:
    now = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
    table = {
        "row": list(range(len(rows))),
        "consent": [c for c, _ in rows],
        "seen": [(now - dt.timedelta(days=age)).isoformat() for _, age in rows],
    }
    policy = Policy(
        keep={"row": None},
        purpose="training",
        consent_column="consent",
        timestamp_column="seen",
        retention_days=200,
    )
    out, report = minimize(table, policy, now=now)

    def grants(consent: object) -> bool:
        if isinstance(consent, list):
            return "training" in consent
        return isinstance(consent, str) and "training" in consent.split(";")

    expected = [i for i, (c, age) in enumerate(rows) if grants(c) and age <= 200]
    assert out["row"] == expected
    assert report.rows_out == len(expected)


@given(
    st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.sampled_from(["hour", "day", "week", "month", "year"]),
)
def test_coarsen_time_on_python_objects_matches_numpy_datetime64(
    stamp: dt.datetime, unit: str
) -> None:
    # Reference: the datetime64 path, which floors with numpy's own unit casts; the
    # datetime/date path floors field by field, so the two are independent.
    from edgeml.data import coarsen_time

    transform = coarsen_time(unit)
    expected = transform(np.array([stamp], dtype="M8[us]"))[0]
    (floored,) = transform([stamp]).tolist()
    assert np.datetime64(floored, "us") == expected
    if unit != "hour":  # a date has no hours; for coarser units it floors like midnight
        (day,) = transform([stamp.date()]).tolist()
        assert np.datetime64(day, "D") == expected.astype("M8[D]")
