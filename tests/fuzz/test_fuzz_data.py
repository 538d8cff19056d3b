"""Fuzz the data layer: detect_pii, redact, Policy.from_json/from_dict, minimize.

Only a result or an edgeml error may come out (see conftest.py). The explicit examples
are the cases issue 15 found escaping as TypeError, AttributeError or RecursionError.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeml.data import Policy, detect_pii, minimize, redact
from edgeml.data.pii import redact_values, scan_values
from edgeml.errors import ConfigError, DataError

FUZZ = settings.get_profile("fuzz")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.text(max_size=30),
    st.binary(max_size=10),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
keys = st.one_of(
    st.text(max_size=8), st.integers(), st.none(), st.tuples(st.integers()), st.binary(max_size=4)
)
policy_fields = st.sampled_from(
    [
        "keep",
        "pseudonymize",
        "quasi_identifiers",
        "k",
        "purpose",
        "consent_column",
        "timestamp_column",
        "retention_days",
        "allow_pii",
        "pseudonym_length",
        "schema",
    ]
)
transform_names = st.sampled_from(
    [
        "bins",
        "truncate",
        "round_to",
        "coarsen_time",
        "coarsen_geo",
        "top_k",
        "redact",
        "suppress",
        "chain",
    ]
)
transform_keys = st.sampled_from(
    [
        "transform",
        "edges",
        "labels",
        "length",
        "step",
        "unit",
        "decimals",
        "grid",
        "k",
        "other",
        "types",
        "steps",
    ]
)
transform_dicts = st.builds(
    lambda name, params: {**params, "transform": name},
    transform_names,
    st.dictionaries(transform_keys, json_values, max_size=3),
)
policy_dicts = st.dictionaries(
    policy_fields,
    st.one_of(
        json_values, st.dictionaries(st.text(max_size=6), st.none() | transform_dicts, max_size=3)
    ),
    max_size=5,
)


def _chain(depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"transform": "suppress"}
    for _ in range(depth):
        spec = {"transform": "chain", "steps": [spec]}
    return spec


# --- the examples issue 15 reported -----------------------------------------------------------
@pytest.mark.parametrize(
    "document",
    [
        {"keep": {"a": None}, "purpose": ["training"], "consent_column": "c"},
        {"keep": {"a": None}, "pseudonymize": [{"x": 1}]},
        {"keep": {"a": {"transform": "redact", "types": [{}]}}},
        {"keep": {"a": {"transform": "redact", "types": [None, 1]}}},
        {"keep": {"a": {"transform": "chain", "steps": None}}},
        {"keep": {"a": _chain(3000)}},
        {"keep": {("a",): None}},
        {"keep": {"a": None}, "allow_pii": [["a"]]},
    ],
)
def test_policy_documents_that_escaped_before_raise_config_error(document: Any) -> None:
    with pytest.raises(ConfigError):
        Policy.from_dict(document)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 3000 + "]" * 3000,
        '{"keep": ' + '{"a": ' * 3000 + "null" + "}" * 3000 + "}",
        '{"keep": {"a": null}, "k": ' + "9" * 5000 + "}",
        b'{"keep": {"a": null}}\xff',
        None,
        42,
        ["keep"],
    ],
)
def test_policy_text_that_escaped_before_raises_config_error(text: Any) -> None:
    with pytest.raises(ConfigError):
        Policy.from_json(text)


def test_a_deep_chain_in_json_is_refused_before_decoding() -> None:
    text = json.dumps({"keep": {"a": _chain(40)}})
    with pytest.raises(ConfigError, match="nested"):
        Policy.from_json(text)
    shallow = Policy.from_json(json.dumps({"keep": {"a": _chain(3)}}))
    assert shallow.released_columns == ("a",)


@pytest.mark.parametrize(
    "table",
    [
        [{1: "bob@example.com"}],
        [{None: "x"}],
        [{"a": 1}, {2: 3}],
        {1: ["a"]},
    ],
)
def test_detect_pii_with_non_string_keys_raises_data_error(table: Any) -> None:
    with pytest.raises(DataError, match="column names must be strings"):
        detect_pii(table)


@pytest.mark.parametrize("columns", ["a", [["a"]], [1], 5])
def test_detect_pii_with_bad_columns_raises_config_error(columns: Any) -> None:
    with pytest.raises(ConfigError, match="'columns'"):
        detect_pii({"a": ["x"]}, columns=columns)


# --- generated input --------------------------------------------------------------------------
@FUZZ
@given(policy_dicts)
def test_policy_from_dict(edgeml_only: Callable[..., Any], document: dict[str, Any]) -> None:
    result = edgeml_only(Policy.from_dict, document)
    if isinstance(result, Policy):
        assert Policy.from_json(result.to_json()) == result


@FUZZ
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), policy_dicts.map(json.dumps)))
def test_policy_from_json(edgeml_only: Callable[..., Any], text: Any) -> None:
    edgeml_only(Policy.from_json, text)


@FUZZ
@given(
    st.one_of(
        st.dictionaries(keys, st.lists(scalars, max_size=5), max_size=3),
        st.lists(st.dictionaries(keys, scalars, max_size=3), max_size=4),
        st.lists(scalars, max_size=8),
        scalars,
    ),
    st.one_of(st.none(), st.integers(-3, 10), st.booleans()),
)
def test_detect_pii(edgeml_only: Callable[..., Any], table: Any, sample: Any) -> None:
    edgeml_only(detect_pii, table, sample=sample)


@FUZZ
@given(st.lists(st.one_of(st.text(max_size=80), scalars), max_size=6))
def test_scan_and_redact_values(edgeml_only: Callable[..., Any], values: list[Any]) -> None:
    found = edgeml_only(scan_values, values)
    redacted = edgeml_only(redact_values, values)
    if isinstance(found, list) and isinstance(redacted, np.ndarray):
        assert len(redacted) == len(values)
        for row, start, end, _ in found:
            assert 0 <= start < end <= len(values[row])


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "note"]), st.lists(scalars, min_size=1, max_size=4), min_size=1
    ),
    policy_dicts,
)
def test_minimize(
    edgeml_only: Callable[..., Any], records: dict[str, list[Any]], document: Any
) -> None:
    policy = edgeml_only(Policy.from_dict, document)
    if isinstance(policy, Policy):
        edgeml_only(minimize, records, policy, key=b"k" * 32)


@FUZZ
@given(st.lists(st.text(max_size=60), min_size=1, max_size=5))
def test_redact_transform_leaves_no_pii_it_reports(
    edgeml_only: Callable[..., Any], notes: list[str]
) -> None:
    table = edgeml_only(minimize, {"note": notes}, Policy(keep={"note": redact()}))
    if isinstance(table, tuple):
        cleaned = [str(v) for v in table[0]["note"]]
        assert scan_values(cleaned) == []
