"""Fuzzing load(): malformed bytes raise edgeml errors and never kill the process.

Cases (seeded, reproducible): truncations at many lengths; single and multiple bit flips
in every region of valid models (the header, each flatbuffer table area, every weight
buffer, every metadata buffer); random bytes with and without the ``TFL3`` identifier.
They run in child processes, many per child; if a child dies from a signal the parent
records the case and continues in a fresh child from the next one.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest

from edgeml.conversion.metadata import CARD_ENTRY, with_edgeml_entry, with_metadata

from .fuzz_child import run_in_children

flatbuffer_utils = pytest.importorskip("ai_edge_litert.tools.flatbuffer_utils")
pytestmark = pytest.mark.tf


def _regions(content: bytes) -> dict[str, tuple[int, int]]:
    """Named byte ranges: header, every buffer's data, and the table areas between."""
    root = flatbuffer_utils.schema_fb.Model.GetRootAs(content, 0)
    metadata = {int(root.Metadata(i).Buffer()) for i in range(root.MetadataLength())}
    spans = []
    for index in range(root.BuffersLength()):
        buffer = root.Buffers(index)
        if buffer.DataLength():
            start = buffer._tab.Vector(4)  # the data vector's first byte
            kind = "metadata" if index in metadata else "weights"
            spans.append((start, start + buffer.DataLength(), f"{kind}-buffer-{index}"))
    spans.sort()
    regions = {"header": (0, 8)}
    cursor = 8
    for start, end, name in spans:
        if start > cursor:
            regions[f"tables-before-{name}"] = (cursor, start)
        regions[name] = (start, end)
        cursor = end
    if cursor < len(content):
        regions["tables-tail"] = (cursor, len(content))
    return regions


def _cases(models: dict[str, bytes]) -> tuple[list[bytes], list[str]]:
    rng = np.random.default_rng(20240601)
    cases: list[bytes] = []
    labels: list[str] = []

    def add(content: bytes, label: str) -> None:
        cases.append(content)
        labels.append(label)

    bases = {
        "mlp_int8_sealed": with_edgeml_entry(
            with_metadata(models["mlp_int8"], CARD_ENTRY, {"owner": "fuzz"})
        ),
        "cnn_float": models["cnn_float"],
        "multi": models["multi"],
    }
    for name, base in bases.items():
        n = len(base)
        for length in sorted({*range(24), *rng.integers(24, n, 40).tolist(), n - 1}):
            add(base[:length], f"{name}:truncated-to-{length}")
        for region, (start, end) in _regions(base).items():
            for trial in range(12):
                corrupted = bytearray(base)
                flips = 1 if trial < 8 else int(rng.integers(2, 9))
                for position in rng.integers(start, end, flips):
                    corrupted[position] ^= 1 << int(rng.integers(0, 8))
                add(bytes(corrupted), f"{name}:{region}:flip{flips}-trial{trial}")
    for _ in range(60):
        size = int(rng.integers(8, 4096))
        noise = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        add(bytes(noise), f"random-{size}")
        noise[4:8] = b"TFL3"
        add(bytes(noise), f"random-with-TFL3-{size}")
        # A valid-looking root offset pointing inside the buffer.
        noise[0:4] = int(rng.integers(8, size)).to_bytes(4, "little")
        add(bytes(noise), f"random-with-TFL3-and-root-{size}")
    return cases, labels


def _run_in_children(
    cases: list[bytes], labels: list[str], folder: Path, backend: str
) -> tuple[dict[int, str], list[str]]:
    """Run every case in child processes; return outcomes and the cases that killed one."""
    outcomes, killed = run_in_children(cases, folder, backend)
    return outcomes, [f"{labels[i]} killed the process ({name})" for i, name in killed.items()]


def test_fuzzed_models_never_kill_the_process(models: dict[str, bytes], tmp_path: Path) -> None:
    cases, labels = _cases(models)
    outcomes, crashes = _run_in_children(cases, labels, tmp_path, "litert")
    assert crashes == []
    unexpected = [f"{labels[i]}: {o}" for i, o in outcomes.items() if o.startswith("unexpected")]
    assert unexpected == []
    assert len(outcomes) == len(cases)
    counts = collections.Counter(outcomes.values())
    # Every random or truncated input is refused; corrupted weights in the sealed model
    # are caught by the hash, never run.
    for i, label in enumerate(labels):
        if label.startswith("random") or ":truncated-to-" in label:
            assert outcomes[i] == "ModelFormatError", label
        if label.startswith("mlp_int8_sealed:weights-buffer"):
            assert outcomes[i] == "IntegrityError", label
    assert counts["ModelFormatError"] > 0
    assert counts["ran"] > 0  # flips in some table bytes are harmless (e.g. names)
    assert counts["InferenceError"] > 0  # corrupted constants fail at invoke, not crash


def test_the_tflite_fallback_is_fed_bytes_and_survives_the_same_cases(
    models: dict[str, bytes], tmp_path: Path
) -> None:
    # tf.lite.Interpreter(model_path=...) segfaults on such files; edgeml always passes
    # model_content. Every 6th case keeps this lane to a few seconds after TF's import.
    cases, labels = _cases(models)
    cases, labels = cases[::6], labels[::6]
    outcomes, crashes = _run_in_children(cases, labels, tmp_path, "tflite")
    assert crashes == []
    unexpected = [f"{labels[i]}: {o}" for i, o in outcomes.items() if o.startswith("unexpected")]
    assert unexpected == []
    assert len(outcomes) == len(cases)
