"""``create_app``: a FastAPI app serving a model with ``/predict`` and ``/metrics``.

Endpoints
---------
``POST /predict``
    A batch as JSON (``{"inputs": [[...], ...], "ids": [...]}`` or a bare nested list)
    or as a ``.npy`` file (``Content-Type: application/x-npy``). Returns
    ``{"outputs": [[...], ...]}``. The optional ``ids`` (one per row) let
    ``POST /labels`` join delayed ground truth later.
``POST /labels``
    ``{"ids": [...], "labels": [...]}``: ground truth for earlier predictions.
``GET /metrics``
    Prometheus text exposition of the app's registry.
``GET /healthz``
    ``{"status": "ok", ...}`` once the model is loaded.
``GET /card``
    The model card stored in the model (or its metadata), as JSON.

Every client mistake gets a 4xx JSON body ``{"error": "..."}`` that says what was wrong
and what is expected; unexpected server failures get a 500 with a fixed message (the
details go to the ``edgeml.monitor`` log, never to the client).

Hostile input is bounded where it enters: JSON bodies are decoded by
:func:`edgeml._json.loads_bounded` (nesting depth checked before decoding, integers of
more than 4,300 digits, ``true``/``false`` where numbers are expected: all 400, on a
connection that stays usable); a body that does not arrive within ``body_timeout``
seconds gets 408 and its connection is closed; a client that disconnects mid-upload is
logged at DEBUG and counted in ``edgeml_http_rejected_total{reason="client_disconnect"}``.
With ``auth_token`` set, ``/predict`` and ``/labels`` need ``Authorization: Bearer
<token>`` (compared in constant time); ``/metrics``, ``/healthz`` and ``/card`` stay open
for scrapers and health checks.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import math
import weakref
from collections.abc import Hashable
from typing import Any

import numpy as np

from edgeml._display import to_jsonable
from edgeml._json import loads_bounded
from edgeml._optional import require
from edgeml.errors import DataError, EdgeMLError, invalid_argument

# This module is imported only by create_app (edgeml.monitor is lazy), so the optional
# web stack is imported at its top.
require("fastapi", extra="serve", feature="edgeml serve")
require("prometheus_client", extra="monitor", feature="edgeml serve")

import prometheus_client as prom  # noqa: E402
from fastapi import FastAPI, HTTPException, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse, Response  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.requests import ClientDisconnect  # noqa: E402

__all__ = ["create_app"]

logger = logging.getLogger("edgeml.monitor")

_NPY_TYPES = ("application/x-npy", "application/octet-stream", "application/npy")
# Batches up to this many input values run in the event loop (a thread hop costs more
# than a tiny model); larger ones run in a worker thread so /metrics stays responsive.
_INLINE_ELEMENTS = 16384
# Request bodies never need deep nesting: (batch, height, width, channels) inside
# {"inputs": ...} is 5 levels. Anything deeper is refused before it is decoded.
_MAX_JSON_DEPTH = 32
# The smallest bearer token accepted: shorter secrets can be guessed online.
_MIN_TOKEN_CHARS = 16
_REJECT_REASONS = ("client_disconnect", "body_timeout", "unauthorized")
# One counter family per registry (create_app may be called twice on one registry).
_REJECTED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


class _ClientError(Exception):
    """A request the server refuses, with the HTTP status to answer."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str | None = "invalid_input",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.headers = headers


def _input_spec(model: Any) -> tuple[tuple[int | None, ...] | None, str | None]:
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1:
        return None, None
    spec = inputs[0]
    shape = getattr(spec, "shape", None)
    name = getattr(spec, "name", None)
    return (tuple(shape) if shape is not None else None), name


def _check_ids(ids: Any, n: int) -> list[Hashable] | None:
    if ids is None:
        return None
    if not isinstance(ids, list) or len(ids) != n:
        raise _ClientError(422, f"'ids' must be a list with one id per input row ({n}).")
    if not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in ids):
        raise _ClientError(422, "'ids' must contain only strings or integers.")
    if any(isinstance(i, str) and len(i) > 256 for i in ids):
        raise _ClientError(422, "each id must be at most 256 characters long.")
    return list(ids)


def _decode(body: bytes) -> Any:
    try:
        return loads_bounded(
            body, max_depth=_MAX_JSON_DEPTH, allow_booleans=False, what="The request body"
        )
    except DataError as exc:
        raise _ClientError(400, str(exc)) from None


def _parse_json(body: bytes) -> tuple[Any, list[Hashable] | None]:
    payload = _decode(body)
    ids = None
    if isinstance(payload, dict):
        unknown = sorted(set(payload) - {"inputs", "ids"})
        if unknown or "inputs" not in payload:
            raise _ClientError(
                422,
                'A JSON body must be {"inputs": [[...], ...]} with optional "ids"; '
                f"got keys {sorted(payload)}.",
            )
        ids = payload.get("ids")
        payload = payload["inputs"]
    if not isinstance(payload, list):
        raise _ClientError(422, "'inputs' must be a (nested) list of numbers, one row per sample.")
    return payload, ids


def _is_label(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return len(value) <= 256
    if isinstance(value, int):
        return abs(value) <= 2**63
    return isinstance(value, float) and math.isfinite(value)


def _rejected_counter(registry: Any) -> Any:
    counter = _REJECTED.get(registry)
    if counter is None:
        counter = prom.Counter(
            "edgeml_http_rejected",
            "Requests dropped before reaching the model, by reason (client disconnected "
            "mid-upload, body not received in time, missing or wrong bearer token).",
            ["model", "reason"],
            registry=registry,
        )
        _REJECTED[registry] = counter
    return counter


def _check_token(token: Any) -> bytes | None:
    if token is None:
        return None
    if not isinstance(token, str) or len(token.strip()) < _MIN_TOKEN_CHARS:
        # never echo the secret itself, whatever its type
        shown = (
            f"a {len(token.strip())}-character string"
            if isinstance(token, str)
            else f"a {type(token).__name__}"
        )
        raise invalid_argument(
            "create_app",
            "auth_token",
            shown,
            f"None or a string of at least {_MIN_TOKEN_CHARS} characters",
            fix="generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    return token.strip().encode("utf-8")


def _parse_npy(body: bytes) -> np.ndarray:
    from edgeml._io import npy_fits

    problem = npy_fits(body[:65536], len(body))
    if problem is not None:
        raise _ClientError(400, f"The body is not a valid .npy file: {problem}.")
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError... for bad files
        raise _ClientError(400, f"The body is not a valid .npy file: {exc}.") from None
    if not isinstance(array, np.ndarray):
        raise _ClientError(400, "The body must be one .npy array, not an .npz archive.")
    return array


def _to_batch(data: Any, shape: tuple[int | None, ...] | None, max_batch: int) -> np.ndarray:
    try:
        array = np.asarray(data)
    except ValueError:
        raise _ClientError(
            422, "'inputs' must be a rectangular array (all rows the same length)."
        ) from None
    if (
        array.dtype == object
        or np.issubdtype(array.dtype, np.complexfloating)
        or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_)
    ):
        raise _ClientError(
            422,
            f"'inputs' must hold numbers only and be rectangular; got dtype {array.dtype}.",
        )
    with np.errstate(over="ignore", invalid="ignore"):  # too-large values become inf...
        array = array.astype(np.float32)
    if array.size == 0:
        raise _ClientError(422, "'inputs' is empty: send at least one row.")
    if shape is not None:
        sample = tuple(shape[1:])
        if array.ndim == len(sample) and _matches(array.shape, sample):
            array = array[None, ...]  # one sample without its batch axis
        if array.ndim != len(shape) or not _matches(array.shape[1:], sample):
            expected = "(batch, " + ", ".join("any" if d is None else str(d) for d in sample) + ")"
            raise _ClientError(
                422, f"'inputs' has shape {array.shape}; the model expects {expected}."
            )
    if array.ndim == 0:
        raise _ClientError(422, "'inputs' must be a list of rows, not a single number.")
    if array.shape[0] > max_batch:
        raise _ClientError(
            413,
            f"The batch has {array.shape[0]} rows; this server accepts at most {max_batch} "
            "per request. Split it into smaller requests.",
            kind="too_large",
        )
    if not np.isfinite(array).all():  # ...and are refused here
        raise _ClientError(
            422, "'inputs' contains NaN, infinite or too large (beyond float32) values."
        )
    return array


def _matches(got: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return len(got) == len(expected) and all(
        e is None or e == g for g, e in zip(got, expected, strict=True)
    )


def _jsonable_outputs(outputs: Any) -> Any:
    if isinstance(outputs, np.ndarray) and np.isfinite(outputs).all():
        return outputs.tolist()  # fast path; to_jsonable also maps NaN to None
    return to_jsonable(outputs)


def _card(model: Any) -> dict[str, Any]:
    for attribute in ("card", "metadata"):
        value = getattr(model, attribute, None)
        if callable(value):
            try:
                value = value()
            except TypeError:
                continue
        if value is not None:
            return {attribute: to_jsonable(value)}
    return {}


def create_app(
    model: Any,
    *,
    reference: Any = None,
    monitor: Any = None,
    registry: Any = None,
    name: str | None = None,
    max_body_bytes: int = 16 * 1024 * 1024,
    max_batch: int = 1024,
    body_timeout: float = 30.0,
    auth_token: str | None = None,
    **monitor_options: Any,
) -> Any:
    """Build a FastAPI app that serves ``model`` and exposes its metrics.

    Parameters
    ----------
    model : EdgeModel, str or os.PathLike
        The model, or a ``.tflite`` path loaded with :func:`edgeml.runtime.load`.
    reference : array_like, optional
        Reference inputs for drift (see :class:`~edgeml.monitor.ModelMonitor`).
    monitor : ModelMonitor, optional
        Use this monitor instead of creating one (then ``reference``, ``registry``,
        ``name`` and ``monitor_options`` must be omitted).
    registry : prometheus_client.CollectorRegistry, optional
        Where the metrics live; by default a new registry with the process and platform
        collectors, so ``/metrics`` shows this app's model only.
    name : str, optional
        The ``model`` label value.
    max_body_bytes : int, default 16 MiB
        Larger request bodies are refused with 413 before they are read in full.
    max_batch : int, default 1024
        Larger batches are refused with 413.
    body_timeout : float, default 30.0
        Seconds a request body may take to arrive in full; a slower (or stalled) upload
        gets 408 and its connection is closed, so stalled clients cannot pin the server.
    auth_token : str, optional
        When set (16 characters or more), ``POST /predict`` and ``POST /labels`` need the
        header ``Authorization: Bearer <auth_token>``; others get 401. ``edgeml serve``
        reads it from an environment variable or a file, never from the command line.
    **monitor_options
        Passed to :class:`~edgeml.monitor.ModelMonitor` (``window``, ``recompute_every``...).

    Returns
    -------
    fastapi.FastAPI
        The app; run it with ``uvicorn.run(app, host="127.0.0.1", port=8000)`` or
        ``edgeml serve``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastapi.testclient import TestClient
    >>> class Sum:
    ...     def predict(self, x):
    ...         return np.asarray(x, dtype=np.float32).sum(axis=1, keepdims=True)
    >>> client = TestClient(create_app(Sum(), name="sum"))
    >>> client.post("/predict", json={"inputs": [[1, 2], [3, 4]]}).json()
    {'outputs': [[3.0], [7.0]]}
    >>> client.post("/predict", json={"inputs": [[1, "a"]]}).status_code
    422
    """
    from edgeml.monitor._monitor import ModelMonitor

    for arg, value in (("max_body_bytes", max_body_bytes), ("max_batch", max_batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise invalid_argument("create_app", arg, value, "an integer >= 1")
    if (
        isinstance(body_timeout, bool)
        or not isinstance(body_timeout, (int, float))
        or not 0 < body_timeout < math.inf
    ):
        raise invalid_argument("create_app", "body_timeout", body_timeout, "a positive number")
    expected_token = _check_token(auth_token)
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        runtime = require("edgeml.runtime", extra="litert", feature="edgeml serve")
        model = runtime.load(model)
    if monitor is None:
        if registry is None:
            registry = prom.CollectorRegistry()
            prom.ProcessCollector(registry=registry)
            prom.PlatformCollector(registry=registry)
        monitor = ModelMonitor(
            model, reference=reference, registry=registry, name=name, **monitor_options
        )
    elif reference is not None or registry is not None or name is not None or monitor_options:
        raise invalid_argument(
            "create_app",
            "monitor",
            monitor,
            "given alone: reference, registry, name and monitor options configure a new monitor",
        )
    input_shape, _ = _input_spec(model)
    app = FastAPI(
        title=f"edgeml: {monitor.name}",
        description="Predictions with Prometheus metrics, served by edgeml.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.monitor = monitor
    rejected = _rejected_counter(monitor.registry)
    for reason in _REJECT_REASONS:
        rejected.labels(model=monitor.name, reason=reason)  # exported at 0 from the start

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> Any:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    def authorize(request: Request) -> None:
        if expected_token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if not (
            scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected_token)
        ):
            rejected.labels(model=monitor.name, reason="unauthorized").inc()
            raise _ClientError(
                401,
                "This server needs 'Authorization: Bearer <token>' on /predict and /labels.",
                kind=None,
                headers={"WWW-Authenticate": 'Bearer realm="edgeml"'},
            )

    async def receive_body(request: Request) -> bytes:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                raise _ClientError(413, _too_large(len(body), max_body_bytes), kind="too_large")
        return bytes(body)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or len(declared) > 20:
                raise _ClientError(400, "Content-Length must be a number.", kind=None)
            if int(declared) > max_body_bytes:
                raise _ClientError(413, _too_large(int(declared), max_body_bytes), kind="too_large")
        try:
            return await asyncio.wait_for(receive_body(request), timeout=body_timeout)
        except asyncio.TimeoutError:
            rejected.labels(model=monitor.name, reason="body_timeout").inc()
            raise _ClientError(
                408,
                f"The request body did not arrive within {body_timeout:g} s.",
                kind=None,
                headers={"Connection": "close"},
            ) from None
        except ClientDisconnect:
            # The client went away mid-upload: nobody to answer, nothing to fix here.
            rejected.labels(model=monitor.name, reason="client_disconnect").inc()
            logger.debug("client disconnected while sending a request to %s", request.url.path)
            raise _ClientError(400, "The client disconnected.", kind=None) from None

    @app.exception_handler(_ClientError)
    async def client_error(request: Any, exc: _ClientError) -> Any:
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Any, exc: Any) -> Any:
        return error(422, f"Invalid request: {exc.errors()}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Any, exc: Any) -> Any:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(404)
    async def not_found(request: Any, exc: Any) -> Any:
        return error(404, f"No such endpoint: {request.url.path}. Try /predict or /metrics.")

    @app.exception_handler(Exception)
    async def server_error(request: Any, exc: Exception) -> Any:
        logger.exception("unexpected error while serving %s", request.url.path)
        return error(500, "Internal error; the server log has the details.")

    @app.post("/predict")
    async def predict(request: Request) -> Any:
        authorize(request)
        try:
            body = await read_body(request)
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type in ("", "application/json"):
                data, raw_ids = _parse_json(body)
            elif content_type in _NPY_TYPES:
                data, raw_ids = _parse_npy(body), None
            else:
                raise _ClientError(
                    415,
                    f"Unsupported Content-Type {content_type!r}: send application/json "
                    "or application/x-npy.",
                )
            batch = _to_batch(data, input_shape, max_batch)
            ids = _check_ids(raw_ids, batch.shape[0])
        except _ClientError as exc:
            if exc.kind is not None:
                monitor.record_error(exc.kind)
            raise
        try:
            if batch.size <= _INLINE_ELEMENTS:
                outputs = monitor.predict(batch, ids=ids)
            else:
                outputs = await run_in_threadpool(monitor.predict, batch, ids=ids)
        except (EdgeMLError, ValueError, TypeError) as exc:
            # The monitor counted it; the model refused the input (shape, dtype...).
            raise _ClientError(422, f"The model rejected the input: {exc}", kind=None) from None
        return JSONResponse({"outputs": _jsonable_outputs(outputs)})

    @app.post("/labels")
    async def labels(request: Request) -> Any:
        authorize(request)
        body = await read_body(request)
        try:
            payload = _decode(body)
        except _ClientError as exc:
            raise _ClientError(exc.status, exc.message, kind=None) from None
        if not (isinstance(payload, dict) and set(payload) == {"ids", "labels"}):
            raise _ClientError(
                422, 'A labels body must be {"ids": [...], "labels": [...]}.', kind=None
            )
        values = payload["labels"]
        if not isinstance(values, list) or not all(_is_label(v) for v in values):
            raise _ClientError(
                422,
                "'labels' must be a list of finite numbers (integers within +-2**63) or "
                "strings of at most 256 characters.",
                kind=None,
            )
        try:
            ids = _check_ids(payload["ids"], len(values))
        except _ClientError as exc:
            raise _ClientError(exc.status, exc.message, kind=None) from None
        assert ids is not None
        outcomes = {"joined": 0, "unknown": 0}
        for request_id, label in zip(ids, values, strict=True):
            outcomes[monitor.record_label(request_id, label).outcome] += 1
        return JSONResponse(outcomes)

    @app.get("/metrics")
    def metrics() -> Any:
        monitor.expire()
        return Response(prom.generate_latest(monitor.registry), media_type=prom.CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok", "model": monitor.name}

    @app.get("/card")
    def card() -> Any:
        return JSONResponse({"model": monitor.name, **_card(model)})

    return app


def _too_large(size: int, limit: int) -> str:
    return (
        f"The request body has {size} bytes; this server accepts at most {limit}. "
        "Send fewer rows per request."
    )
