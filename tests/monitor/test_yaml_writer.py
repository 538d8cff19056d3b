"""The small YAML writer round-trips through PyYAML, the reference reader."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeml.monitor._yaml import dump

yaml = pytest.importorskip("yaml")

_keys = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
_scalars = (
    st.text(max_size=20)
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=15,
)


@given(st.dictionaries(_keys, _values, max_size=5))
def test_round_trip_through_pyyaml(document: dict[str, Any]) -> None:
    assert yaml.safe_load(dump(document)) == document


def test_strings_that_look_like_other_types_stay_strings() -> None:
    tricky = {"a": "true", "b": "1e3", "c": "null", "d": "- x", "e": "{x}", "f": 'say "hi"'}
    assert yaml.safe_load(dump(tricky)) == tricky


def test_unsupported_values_are_refused() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        dump({"x": float("nan")})
    with pytest.raises(TypeError, match="cannot write"):
        dump({"x": object()})


@pytest.mark.parametrize("word", ["on", "Off", "yes", "NO", "y", "n", "true", "null"])
def test_yaml_1_1_reserved_words_stay_strings_as_keys(word: str) -> None:
    # Found by hypothesis: PyYAML reads a bare `on:` key as the boolean True.
    document = {word: {}, "labels": {word: "value"}}
    assert yaml.safe_load(dump(document)) == document
