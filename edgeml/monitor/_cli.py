"""``edgeml serve``: serve a ``.tflite`` model with ``/predict`` and Prometheus ``/metrics``.

Authentication: when the environment variable named by ``--token-env`` (default
``EDGEML_SERVE_TOKEN``) is set, or ``--token-file`` names a file, ``/predict`` and
``/labels`` need ``Authorization: Bearer <token>``. The token never appears on the
command line (where ``ps`` would show it to every user of the machine).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="edgeml")
>>> serve = add_parser(parser.add_subparsers())
>>> args = parser.parse_args(["serve", "model.tflite", "--port", "9000"])
>>> args.host, args.port, args.reference
('127.0.0.1', 9000, None)
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeml._cli_support import add_model_command
from edgeml.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "TOKEN_ENV",
    "add_parser",
    "header_timeout_protocol",
    "load_reference",
    "read_token",
]

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: Environment variable holding the bearer token, unless ``--token-env`` names another.
TOKEN_ENV = "EDGEML_SERVE_TOKEN"


def read_token(token_file: str | Path | None, token_env: str = TOKEN_ENV) -> str | None:
    """Return the bearer token from ``token_file`` or the environment, or None.

    Parameters
    ----------
    token_file : str or pathlib.Path, optional
        A file holding the token (surrounding whitespace is ignored).
    token_env : str, default "EDGEML_SERVE_TOKEN"
        The environment variable to read when no file is given.

    Returns
    -------
    str or None
        The token, or None when neither source holds one (the server is then open).

    Raises
    ------
    ConfigError
        When the file is empty or not UTF-8 text.
    PathError
        When the file cannot be read.

    Examples
    --------
    >>> import os
    >>> os.environ["EDGEML_DOC_TOKEN"] = "correct-horse-battery-staple"
    >>> read_token(None, "EDGEML_DOC_TOKEN")
    'correct-horse-battery-staple'
    >>> read_token(None, "EDGEML_NO_SUCH_VARIABLE") is None
    True
    """
    import os

    from edgeml._io import read_file

    if token_file is not None:
        raw = read_file(token_file, owner="edgeml serve", argument="--token-file", max_bytes=4096)
        try:
            token = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            token = ""
        if not token:
            raise ConfigError(
                f"--token-file {str(token_file)!r} holds no UTF-8 token. Fix: write one line, "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE."
            )
        return token
    value = os.environ.get(token_env, "").strip()
    return value or None


def load_reference(path: str | Path) -> np.ndarray:
    """Read reference inputs from ``.npy`` or from an ``.npz`` holding one array.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    numpy.ndarray
        The reference inputs, one row per sample.

    Raises
    ------
    DataError
        When the file cannot be read, or an ``.npz`` holds no array or several (unless
        one of them is called ``x`` or ``reference``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "ref.npz"
    >>> np.savez(target, x=np.zeros((3, 2)), y=np.ones(3))
    >>> load_reference(target).shape
    (3, 2)
    """
    import numpy as np

    from edgeml._io import checked_path, load_array_file
    from edgeml.errors import PathError

    try:  # refuses folders and FIFOs (np.load would block on a FIFO)
        checked_path(path, owner="edgeml serve", argument="--reference")
    except PathError as exc:
        raise DataError(f"Cannot read the reference file {str(path)!r}: {exc}") from exc
    try:
        loaded = load_array_file(path, name=f"the reference file {str(path)!r}")
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"Cannot read the reference file {str(path)!r}: {exc}") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = list(loaded.files)
        for preferred in ("x", "reference"):
            if preferred in names:
                return np.asarray(loaded[preferred])
        if len(names) != 1:
            raise DataError(
                f"The reference file {str(path)!r} holds arrays {names}; expected one array, "
                "or one called 'x' or 'reference'. Fix: np.savez(path, x=reference_inputs)."
            )
        return np.asarray(loaded[names[0]])


def header_timeout_protocol(seconds: float) -> type:
    """Return uvicorn's h11 protocol with a deadline for each request's headers.

    uvicorn closes idle keep-alive connections, but a connection that sends nothing, or
    half of a request line or headers, is kept open forever: enough of them exhaust the
    server (slowloris). With this protocol such a connection is closed after ``seconds``:
    counted from when it opens, and again from the end of each response. A request whose
    headers arrived is never cut by it (its body has the app's own ``body_timeout``).

    Parameters
    ----------
    seconds : float
        The deadline.

    Returns
    -------
    type
        A subclass of ``uvicorn.protocols.http.h11_impl.H11Protocol``, for
        ``uvicorn.run(app, http=...)``.

    Examples
    --------
    >>> import uvicorn.protocols.http.h11_impl as h11_impl
    >>> issubclass(header_timeout_protocol(10.0), h11_impl.H11Protocol)
    True
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):  # type: ignore[misc]
        _edgeml_timer: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_header_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._edgeml_timer is not None:
                self._edgeml_timer.cancel()
            super().connection_lost(exc)

        def _arm_header_deadline(self) -> None:
            if self._edgeml_timer is not None:
                self._edgeml_timer.cancel()
            waiting_for = self.cycle

            def expire() -> None:
                idle = self.cycle is None or self.cycle.response_complete
                if self.cycle is waiting_for and idle and not self.transport.is_closing():
                    self.transport.close()  # no (new) request arrived in time

            self._edgeml_timer = self.loop.call_later(seconds, expire)

    return HeaderTimeoutH11Protocol


def _run(args: argparse.Namespace) -> int:
    from edgeml._optional import require

    uvicorn: Any = require("uvicorn", extra="serve", feature="edgeml serve")
    runtime: Any = require("edgeml.runtime", extra="litert", feature="edgeml serve")
    from edgeml.monitor._app import create_app

    if args.port < 0 or args.port > 65535:
        raise ConfigError(f"--port must be in 0..65535; got {args.port}.")
    for option in ("body_timeout", "idle_timeout", "header_timeout"):
        if not 0 < getattr(args, option) < 86400:
            raise ConfigError(
                f"--{option.replace('_', '-')} must be a positive number of seconds "
                f"(below one day); got {getattr(args, option)}."
            )
    if args.limit_concurrency < 1:
        raise ConfigError(f"--limit-concurrency must be >= 1; got {args.limit_concurrency}.")
    token = read_token(args.token_file, args.token_env)
    model = runtime.load(args.model)
    reference = None if args.reference is None else load_reference(args.reference)
    options: dict[str, Any] = {"window": args.window}
    if args.recompute_every is not None:
        options["recompute_every"] = args.recompute_every
    if args.dp_epsilon is not None:
        options["dp_epsilon"] = args.dp_epsilon
    if args.feature_names is not None:
        options["feature_names"] = [n.strip() for n in args.feature_names.split(",")]
    app = create_app(
        model,
        reference=reference,
        name=args.name or Path(args.model).stem,
        max_body_bytes=args.max_body_bytes,
        max_batch=args.max_batch,
        body_timeout=args.body_timeout,
        auth_token=token,
        **options,
    )
    if args.host not in _LOOPBACK and token is None:
        print(
            f"edgeml serve: warning: listening on {args.host}, reachable from other machines, "
            f"without a token; set {args.token_env} or --token-file, or put it behind an "
            "authenticating proxy.",
            file=sys.stderr,
        )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        timeout_keep_alive=args.idle_timeout,
        limit_concurrency=args.limit_concurrency,
        http=header_timeout_protocol(args.header_timeout),
    )
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``edgeml serve`` on an ``argparse`` sub-parser collection.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``serve`` parser.
    """
    parser = add_model_command(
        subparsers,
        "serve",
        help="serve a .tflite model with /predict and Prometheus /metrics",
        description=(
            "Serve a .tflite model over HTTP: POST /predict (JSON or .npy), POST /labels "
            "(delayed ground truth), GET /metrics (Prometheus), /healthz and /card. "
            'Needs pip install "edgeml[serve]".'
        ),
        run=_run,
    )
    parser.add_argument(
        "--reference", help="reference inputs (.npy, or .npz with one array) for drift gauges"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--name", help="value of the 'model' metric label (default: file stem)")
    parser.add_argument("--window", type=int, default=1000, help="samples in the drift window")
    parser.add_argument(
        "--recompute-every", type=int, help="recompute drift after this many samples"
    )
    parser.add_argument(
        "--dp-epsilon",
        type=float,
        help="release drift histograms with this much differential privacy per recompute",
    )
    parser.add_argument(
        "--feature-names",
        metavar="A,B,...",
        help="comma-separated names of the input columns, the 'feature' label of the drift "
        "metrics (default: the names in the model card's drift baseline, else x0, x1, ...)",
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=16 * 1024 * 1024, help="largest request body"
    )
    parser.add_argument("--max-batch", type=int, default=1024, help="most rows per request")
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=30.0,
        help="seconds a request body may take to arrive; slower uploads get 408 (default 30)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a connection may take to send a request's headers (default 10)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=5.0,
        help="seconds an idle keep-alive connection stays open (default 5)",
    )
    parser.add_argument(
        "--limit-concurrency",
        type=int,
        default=256,
        help="most connections at once; more get 503 (default 256)",
    )
    parser.add_argument(
        "--token-file",
        help="file holding a bearer token required on /predict and /labels",
    )
    parser.add_argument(
        "--token-env",
        default=TOKEN_ENV,
        help=f"environment variable holding the bearer token (default {TOKEN_ENV}); "
        "used when --token-file is not given",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level",
    )
    return parser
