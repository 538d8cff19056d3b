"""Transforms and Policy: behaviour, idempotence, serialization, validation messages.

Expected values are worked out by hand from each transform's definition (stated next to
each case); calendar facts (2024-03-14 was a Thursday) come from the Python calendar.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import pickle

import numpy as np
import pytest

from edgeml.data import (
    Policy,
    Transform,
    bins,
    chain,
    coarsen_geo,
    coarsen_time,
    redact,
    round_to,
    suppress,
    top_k,
    transform_from_dict,
    truncate,
)
from edgeml.errors import ConfigError, DataError

pytestmark = pytest.mark.compat

ALL_TRANSFORMS: list[Transform] = [
    bins([0, 18, 65, float("inf")]),
    bins([0, 10, 20], labels=["low", "high"]),
    truncate(3),
    round_to(5),
    round_to(0.25),
    coarsen_time("week"),
    coarsen_geo(2),
    coarsen_geo(grid=0.5),
    top_k(2, other="rare"),
    redact(),
    redact(types=["email", "phone"]),
    suppress(),
    chain(truncate(4), top_k(3)),
]


def test_bins_half_open_with_closed_last_interval_and_missing_kept() -> None:
    # [0, 18) [18, 65) [65, 120]: 18 belongs to the second, 120 to the last.
    out = bins([0, 18, 65, 120])([0, 17.9, 18, 64, 65, 120, None])
    assert out.tolist() == [
        "[0, 18)",
        "[0, 18)",
        "[18, 65)",
        "[18, 65)",
        "[65, 120]",
        "[65, 120]",
        None,
    ]


def test_bins_out_of_range_names_the_column_and_the_fix() -> None:
    with pytest.raises(DataError, match=r"column 'age' has 1 values outside .*widen"):
        bins([0, 120])([5, 130], column="age")


def test_truncate_round_top_k_suppress() -> None:
    assert truncate(3)(["94107", "SW1A", "ab", None]).tolist() == ["941", "SW1", "ab", None]
    # 62.5 / 5 = 12.5 rounds to even (12): 60; 67.5 -> 13.5 -> 14: 70.
    assert round_to(5)([62.5, 67.5, 1.0]).tolist() == [60.0, 70.0, 0.0]
    assert round_to(0.5)([1.26, 1.24]).tolist() == [1.5, 1.0]
    # counts: a=3, b=2, c=2; ties broken by text, so b beats c.
    values = ["a", "a", "a", "b", "b", "c", "c", None]
    assert top_k(2)(values).tolist() == ["a", "a", "a", "b", "b", "other", "other", None]
    assert suppress()([1, 2]).tolist() == [None, None]


def test_coarsen_time_on_strings_datetimes_and_datetime64() -> None:
    # 2024-03-14 was a Thursday; its week starts on Monday 2024-03-11.
    assert coarsen_time("week")(["2024-03-14"]).tolist() == ["2024-03-11"]
    aware = dt.datetime(2024, 3, 14, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    (floored,) = coarsen_time("day")([aware]).tolist()
    assert floored == dt.datetime(2024, 3, 14, tzinfo=aware.tzinfo)
    stamps = np.array(["2024-03-14T15:30", "2023-12-31T23:59"], dtype="M8[s]")
    weeks = coarsen_time("week")(stamps)
    assert weeks.dtype == stamps.dtype
    # 2023-12-31 was a Sunday: its week started on Monday 2023-12-25.
    assert weeks.astype("M8[D]").astype(str).tolist() == ["2024-03-11", "2023-12-25"]
    months = coarsen_time("month")(stamps).astype("M8[D]").astype(str).tolist()
    assert months == ["2024-03-01", "2023-12-01"]


def test_coarsen_geo_rounding_and_grid_centres() -> None:
    assert coarsen_geo(1)([48.85837, -2.29448]).tolist() == [48.9, -2.3]
    # floor(48.85837 / 0.25) = 195 -> centre (195 + 0.5) * 0.25 = 48.875.
    assert coarsen_geo(grid=0.25)([48.85837]).tolist() == [48.875]
    with pytest.raises(DataError, match=r"\[-180, 180\]"):
        coarsen_geo(2)([500.0])


@pytest.mark.parametrize("transform", ALL_TRANSFORMS, ids=lambda t: t.describe())
def test_every_transform_is_idempotent_and_round_trips_through_json(transform: Transform) -> None:
    samples = {
        "bins": [3, 20, 70, None],
        "truncate": ["94107", "10001", None],
        "round_to": [1.1, 7.3, 12.6],
        "coarsen_time": ["2024-03-14T10:00:00", None],
        "coarsen_geo": [48.85837, 2.29448],
        "top_k": ["a", "a", "b", "c", "c", "d"],
        "redact": ["mail a@b.org", "fine", None],
        "suppress": [1, 2],
        "chain": ["94107", "94110", "10001", "10002", "60601"],
    }
    values = samples[transform.name]
    if transform == bins([0, 10, 20], labels=["low", "high"]):
        values = [3, 12, 20]
    once = transform(values)
    assert transform(once).tolist() == once.tolist()
    rebuilt = transform_from_dict(json.loads(json.dumps(transform.to_dict())))
    assert rebuilt == transform
    assert rebuilt(values).tolist() == once.tolist()


@pytest.mark.parametrize("transform", ALL_TRANSFORMS, ids=lambda t: t.describe())
def test_transforms_never_modify_their_input(transform: Transform) -> None:
    values = np.array(["94107", "a@b.org", None], dtype=object)
    before = values.copy()
    # a transform may reject the column, but must still leave it alone
    with contextlib.suppress(DataError):
        transform(values)
    assert values.tolist() == before.tolist()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: bins([0]), "strictly increasing"),
        (lambda: bins([0, 10, 5]), "strictly increasing"),
        (lambda: bins([0, 1, 2], labels=["a"]), "2 distinct strings"),
        (lambda: truncate(0), "integer >= 1"),
        (lambda: round_to(-1), "positive finite"),
        (lambda: coarsen_time("fortnight"), "one of"),
        (lambda: coarsen_geo(), "not both"),
        (lambda: coarsen_geo(9), r"\[0, 6\]"),
        (lambda: top_k(0), "integer >= 1"),
        (lambda: chain(), "at least one"),
    ],
)
def test_bad_parameters_raise_config_errors(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


def test_type_errors_name_the_column_and_the_fix() -> None:
    with pytest.raises(DataError, match=r"column 'zip' holds int .*leading zeros"):
        truncate(3)([94107], column="zip")
    with pytest.raises(DataError, match=r"column 'age' holds str .*needs numbers"):
        round_to(5)(["forty"], column="age")
    with pytest.raises(DataError, match="ISO 8601"):
        coarsen_time("day")(["yesterday"], column="seen")


def test_transform_from_dict_rejects_unknown_and_incomplete_specs() -> None:
    with pytest.raises(ConfigError, match="one of"):
        transform_from_dict({"transform": "shuffle"})
    with pytest.raises(ConfigError, match="lacks the parameter 'length'"):
        transform_from_dict({"transform": "truncate"})


# ----------------------------------------------------------------------------- Policy


def full_policy() -> Policy:
    return Policy(
        keep={"age": bins([0, 30, 60, float("inf")]), "zip": truncate(3), "hr": None},
        pseudonymize=["user_id"],
        quasi_identifiers=["age", "zip"],
        k=5,
        purpose="training",
        consent_column="consent",
        timestamp_column="seen",
        retention_days=365,
        allow_pii=["hr"],
        pseudonym_length=20,
    )


def test_policy_round_trips_through_strict_json_and_hash_is_stable() -> None:
    policy = full_policy()
    text = policy.to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    again = Policy.from_json(text)
    assert again == policy
    assert again.policy_hash == policy.policy_hash
    assert hash(again) == hash(policy)
    changed = Policy.from_dict({**policy.to_dict(), "k": 6})
    assert changed.policy_hash != policy.policy_hash


def test_policy_is_immutable() -> None:
    policy = full_policy()
    with pytest.raises(AttributeError):
        policy.k = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.keep["new"] = None  # type: ignore[index]


def test_policy_keeps_its_own_copy_of_keep() -> None:
    keep = {"a": None}
    policy = Policy(keep=keep)
    keep["b"] = None
    assert policy.released_columns == ("a",)


def test_policy_takes_any_sequence_of_names_and_stores_tuples() -> None:
    # Documented with lists, annotated Sequence[str]: lists and tuples are both
    # accepted, stored as tuples, and give equal policies.
    policy = Policy(
        keep={"age": None, "zip": None},
        pseudonymize=["user_id"],
        quasi_identifiers=("age", "zip"),
        k=2,
        allow_pii=["zip"],
    )
    assert policy.pseudonymize == ("user_id",)
    assert policy.quasi_identifiers == ("age", "zip")
    assert policy.allow_pii == ("zip",)
    assert policy == Policy(
        keep={"age": None, "zip": None},
        pseudonymize=("user_id",),
        quasi_identifiers=["age", "zip"],
        k=2,
        allow_pii=("zip",),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keep": {}}, "no column would be released"),
        ({"keep": {"a": None}, "pseudonymize": ["a"]}, "both in keep and pseudonymize"),
        ({"keep": {"a": None}, "pseudonymize": "uid"}, r"pseudonymize=\['uid'\]"),
        ({"keep": {"a": None}, "quasi_identifiers": ["b"]}, "does not release"),
        ({"keep": {"a": None}, "allow_pii": ["b"]}, "does not release"),
        ({"keep": {"a": None}, "k": 5}, "quasi_identifiers is empty"),
        ({"keep": {"a": None}, "quasi_identifiers": ["a"], "k": 1}, "integer >= 2"),
        ({"keep": {"a": None}, "purpose": "training"}, "go together"),
        (
            {"keep": {"a": None}, "purpose": "model training", "consent_column": "c"},
            "purpose='model_training'",
        ),
        ({"keep": {"a": None}, "retention_days": 30}, "needs timestamp_column"),
        ({"keep": {"a": None}, "timestamp_column": "t", "retention_days": -1}, "positive"),
        ({"keep": {"a": "truncate"}}, "transform or None"),
        ({"keep": {"a": None}, "pseudonym_length": 4}, r"\[8, 64\]"),
    ],
)
def test_contradictory_policies_are_rejected_with_the_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Policy(**kwargs)


def test_from_dict_rejects_unknown_fields_and_schemas() -> None:
    with pytest.raises(ConfigError, match="Unknown Policy fields"):
        Policy.from_dict({"keep": {"a": None}, "kk": 5})
    with pytest.raises(ConfigError, match="schema"):
        Policy.from_dict({"schema": "other/9", "keep": {"a": None}})
    with pytest.raises(ConfigError, match="invalid JSON"):
        Policy.from_json("{not json")


@pytest.mark.parametrize("transform", ALL_TRANSFORMS, ids=lambda t: t.describe())
def test_transform_contract_repr_pickle_hash(transform: Transform) -> None:
    # one contract for every transform (as river checks every detector)
    assert len(repr(transform)) < 200
    assert pickle.loads(pickle.dumps(transform)) == transform
    assert hash(transform) == hash(transform_from_dict(transform.to_dict()))
    assert transform.describe()


def test_policy_pickles_and_copies() -> None:
    policy = full_policy()
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert copy.deepcopy(policy) == policy
    assert "Policy(keep=['age', 'zip', 'hr']" in repr(policy)
