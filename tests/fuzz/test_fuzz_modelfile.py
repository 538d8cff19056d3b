"""Fuzzing the model-file layer and ``edgeml.load`` with hypothesis.

Inputs are valid edgeml model files (built from LiteRT's schema, no TensorFlow) with
bytes flipped, overwritten, truncated or inserted. Promises checked:

- every ``edgeml.modelfile`` reader, and the conversion report's ``analyze``, raise only
  edgeml errors (in process: they are pure Python over the flatbuffer, so nothing can
  kill the process);
- a model written with a hash never reads as "unverified" after one changed byte;
- ``edgeml.load`` + ``predict`` raise only edgeml errors and never kill the process
  (run in child processes, the ``tests/runtime/fuzz_child.py`` pattern: a child that
  dies is reported with the case that killed it).

The hypothesis profile is fixed (derandomized, bounded examples, no deadline) so CI
time stays predictable.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime.fuzz_child import run_in_children  # tests/runtime, on sys.path under pytest

from edgeml.conversion.report import analyze
from edgeml.errors import EdgeMLError
from edgeml.modelfile import (
    card_document,
    check_integrity,
    example_model,
    list_metadata,
    read_entries,
    read_metadata,
    weights_sha256,
    with_card_document,
    with_edgeml_entry,
    with_metadata,
)
from edgeml.modelfile._metadata import COMPRESSED_MARKER, decode_document

pytest.importorskip("ai_edge_litert.tools.flatbuffer_utils")

FIXED = settings(
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

BASE = with_edgeml_entry(
    with_card_document(
        with_metadata(example_model(), "labels", {"classes": ["a", "b", "c"]}),
        {"name": "fuzz", "owner": "tests", "notes": "x" * 200},
    ),
    {"edgeml_version": "fuzz"},
)


@st.composite
def mutated(draw: st.DrawFn, base: bytes = BASE) -> bytes:
    """``base`` with a few bytes changed, or truncated, or with bytes inserted."""
    content = bytearray(base)
    kind = draw(st.sampled_from(["flip", "overwrite", "truncate", "insert"]))
    if kind == "truncate":
        return bytes(content[: draw(st.integers(0, len(content) - 1))])
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(content) - 1))
        if kind == "flip":
            content[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            content[position] = draw(st.integers(0, 255))
        else:
            content[position:position] = draw(st.binary(min_size=1, max_size=8))
    return bytes(content)


READERS = (read_metadata, list_metadata, read_entries, check_integrity, weights_sha256, analyze)


@FIXED
@given(content=mutated())
def test_readers_raise_only_edgeml_errors(content: bytes) -> None:
    for reader in (*READERS, card_document):
        with contextlib.suppress(EdgeMLError):
            reader(content)
    with contextlib.suppress(EdgeMLError):
        with_metadata(content, "notes", {"n": 1})


@FIXED
@given(position=st.integers(0, len(BASE) - 1), value=st.integers(1, 255))
def test_one_changed_byte_never_makes_a_hashed_model_unverified(position: int, value: int) -> None:
    content = bytearray(BASE)
    content[position] ^= value
    try:
        status = check_integrity(bytes(content)).status
    except EdgeMLError:
        return  # refused as unparseable: also not "unverified"
    assert status != "unverified"


@FIXED
@given(data=st.binary(max_size=300))
def test_decoding_any_entry_bytes_is_safe(data: bytes) -> None:
    for candidate in (data, COMPRESSED_MARKER + data):
        document = decode_document(candidate)
        assert document is None or isinstance(document, dict)


@settings(derandomize=True, deadline=None, max_examples=4)
@given(cases=st.lists(mutated(), min_size=40, max_size=40))
def test_load_and_predict_never_kill_the_process(
    cases: list[bytes], tmp_path_factory: pytest.TempPathFactory
) -> None:
    outcomes, crashes = run_in_children(cases, tmp_path_factory.mktemp("fuzz"), "litert")
    assert crashes == {}
    assert len(outcomes) == len(cases)
    unexpected = {i: o for i, o in outcomes.items() if o.startswith("unexpected")}
    assert unexpected == {}
    # Every outcome is a run or an edgeml error class name.
    assert all(o == "ran" or o.endswith("Error") for o in outcomes.values())
