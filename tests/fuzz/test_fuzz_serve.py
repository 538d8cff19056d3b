"""Fuzz the ``edgeml serve`` app: generated bodies, content types and headers on
``/predict`` and ``/labels`` never get a 5xx, never echo a traceback or the token, and
never reach the model with anything but finite float32 rows."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("prometheus_client")

from fastapi.testclient import TestClient

from edgeml.monitor import create_app

FUZZ = settings.get_profile("fuzz")
TOKEN = "fuzzing-token-0123456789abcdef"


class _Recorder:
    """A model that records what reached it (float32, finite, 2-D with 3 features)."""

    inputs = ()

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def predict(self, x: Any) -> np.ndarray:
        array = np.asarray(x)
        self.seen.append(array)
        if array.ndim != 2 or array.shape[1] != 3:
            raise ValueError(f"expects (batch, 3); got {array.shape}")
        return array.sum(axis=1, keepdims=True)


MODEL = _Recorder()
CLIENT = TestClient(
    create_app(MODEL, name="fuzz", max_body_bytes=64 * 1024, max_batch=50, auth_token=TOKEN),
    raise_server_exceptions=False,
)
AUTH = {"Authorization": f"Bearer {TOKEN}"}

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=6),
        st.integers(min_value=10**20, max_value=10**40),
    ),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=25,
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda inputs, ids: json.dumps({"inputs": inputs, "ids": ids}).encode(),
        json_values,
        json_values,
    ),
    st.binary(max_size=300),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(4290, 4400).map(lambda n: b"[[" + b"7" * n + b", 1, 2]]"),
)
content_types = st.sampled_from(
    ["application/json", "", "application/x-npy", "text/plain", "application/json; charset=latin-1"]
)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _cast(array: np.ndarray, dtype: str) -> np.ndarray:
    with np.errstate(all="ignore"):  # overflowing casts are part of the point
        return array.astype(dtype)


npy_bodies = st.builds(
    lambda dtype, shape, value: _npy(_cast(np.full(shape, value), dtype)),
    st.sampled_from(["float32", "float64", "int64", "bool", "U2", "complex64"]),
    st.lists(st.integers(0, 4), max_size=4).map(tuple),
    st.sampled_from([0.5, -1, 1e39, float("nan")]),
)


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert TOKEN not in response.text


@FUZZ
@given(st.one_of(bodies, npy_bodies), content_types)
def test_predict_never_fails_on_the_server_side(body: bytes, content_type: str) -> None:
    MODEL.seen.clear()
    headers = {**AUTH, "Content-Type": content_type} if content_type else dict(AUTH)
    _check(CLIENT.post("/predict", content=body, headers=headers))
    for seen in MODEL.seen:
        assert seen.dtype == np.float32
        assert np.isfinite(seen).all()


@FUZZ
@given(bodies)
def test_labels_never_fail_on_the_server_side(body: bytes) -> None:
    _check(CLIENT.post("/labels", content=body, headers=AUTH))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["Authorization", "Content-Length", "Content-Type", "X-Other"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
        max_size=3,
    )
)
def test_headers_never_fail_on_the_server_side(headers: dict[str, str]) -> None:
    body = b'{"inputs": [[1, 2, 3]]}'
    if "Content-Length" in headers and not headers["Content-Length"].isdigit():
        headers["Content-Length"] = str(len(body))  # httpx refuses to send a bad one
    try:
        response = CLIENT.post("/predict", content=body, headers=headers)
    except Exception:
        return
    _check(response)
    if headers.get("Authorization", "") != AUTH["Authorization"]:
        assert response.status_code == 401
