"""Property tests for the TensorFlow-free pieces: C arrays, I/O quantization, metrics."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeml.conversion._interpret import _from_model_output, _to_model_input
from edgeml.conversion._quiet import passthrough, quiet_tensorflow
from edgeml.conversion.c_array import c_source
from edgeml.conversion.evaluation import score


def _parse(text: str, name: str) -> bytes:
    body = text.split(f"{name}[] = {{", 1)[1].split("};", 1)[0]
    return bytes(int(token, 16) for token in body.replace(",", " ").split())


@given(
    st.binary(min_size=0, max_size=300),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
)
def test_c_source_round_trips_any_bytes(data: bytes, name: str) -> None:
    text = c_source(data, name=name)
    assert _parse(text, name) == data
    assert f"const unsigned int {name}_len = {len(data)};" in text


@given(
    st.floats(min_value=1e-4, max_value=1.0),
    st.integers(min_value=-128, max_value=127),
    st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=20),
)
def test_int8_quantization_error_is_at_most_half_a_step(
    scale: float, zero_point: int, fractions: list[float]
) -> None:
    # values spread over the representable range [(-128 - zp) * s, (127 - zp) * s]
    low, high = (-128 - zero_point) * scale, (127 - zero_point) * scale
    x = (low + np.asarray(fractions) * (high - low)).astype(np.float32)
    detail: dict[str, Any] = {"dtype": np.int8, "quantization": (scale, zero_point)}
    q = _to_model_input(x, detail)
    assert q.dtype == np.int8
    back = _from_model_output(q, detail)
    assert np.all(np.abs(back - x) <= scale * 0.5 + 1e-5 * max(1.0, float(np.abs(x).max())))


@given(st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=60), st.integers(0, 10))
def test_accuracy_matches_scikit_learn(labels: list[int], seed: int) -> None:
    from sklearn.metrics import accuracy_score

    y = np.asarray(labels)
    scores = np.random.default_rng(seed).random((len(y), 5))
    assert score("accuracy", y, scores) == pytest.approx(accuracy_score(y, scores.argmax(1)))


def test_quiet_restores_streams_after_an_error(caplog: Any) -> None:
    before = (os.fstat(1).st_ino, os.fstat(2).st_ino, sys.stdout, sys.stderr)

    def noisy_failure() -> None:
        with quiet_tensorflow():
            os.write(2, b"native noise\n")
            print("python noise")
            raise RuntimeError("boom")

    with caplog.at_level(logging.DEBUG, logger="edgeml.conversion"), pytest.raises(RuntimeError):
        noisy_failure()
    assert (os.fstat(1).st_ino, os.fstat(2).st_ino, sys.stdout, sys.stderr) == before
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "native noise" in logged
    assert "python noise" in logged


def test_passthrough_reaches_the_real_stream(capfd: Any) -> None:
    with quiet_tensorflow():
        os.write(2, b"hidden\n")
        with passthrough():
            os.write(2, b"shown\n")
    _, err = capfd.readouterr()
    assert "shown" in err
    assert "hidden" not in err


def test_importing_the_layer_loads_no_tensorflow() -> None:
    import json
    import subprocess

    code = (
        "import sys, json, edgeml.conversion as c\n"
        "c.TFLiteModel, c.read_metadata, c.compare, c.ConversionReport, dir(c)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'tf_keras', 'tensorflow_model_optimization'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
