"""Hypothesis strategies for model cards (shared by the card tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from edgeml.card import ModelCard

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
_optional_text = st.one_of(st.none(), st.text(max_size=40))


@st.composite
def cards(draw: st.DrawFn) -> ModelCard:
    """Draw a card with any subset of fields and JSON sections."""
    fields: dict[str, Any] = {
        "version": draw(_optional_text),
        "owner": draw(_optional_text),
        "description": draw(_optional_text),
        "intended_use": draw(_optional_text),
        "license": draw(_optional_text),
        "training_data": draw(_optional_text),
        "created": draw(_optional_text),
        "limitations": draw(st.lists(st.text(max_size=30), max_size=4)),
        "metrics": draw(
            st.dictionaries(
                st.text(max_size=10),
                st.one_of(st.none(), st.integers(-1000, 1000), st.floats(allow_nan=False)),
                max_size=4,
            )
        ),
        "extra": draw(json_objects),
    }
    for section in ("data", "audit", "conversion", "evaluation", "drift_baseline"):
        fields[section] = draw(st.one_of(st.none(), st.just({}), json_objects.map(_namespaced)))
    fields["privacy"] = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "epsilon": st.one_of(st.none(), st.floats(0, 100)),
                    "delta": st.floats(0, 1),
                    "accountant": st.sampled_from(["rdp", "pld"]),
                }
            ),
        )
    )
    name = draw(st.text(min_size=1, max_size=20).filter(lambda s: s.strip()))
    return ModelCard.build(name, **fields)


def _namespaced(section: dict[str, Any]) -> dict[str, Any]:
    # Keys that the schema types for a layer's section get a prefix, so random values
    # do not collide with their declared types.
    return {f"x_{key}": value for key, value in section.items()}
