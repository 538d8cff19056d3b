"""``edgeml serve``: serve a ``.tflite`` model with ``/predict`` and Prometheus ``/metrics``.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeml._cli_support import add_model_command
from edgeml.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["add_parser", "load_reference"]

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


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

    try:
        loaded = np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
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


def _run(args: argparse.Namespace) -> int:
    from edgeml._optional import require

    uvicorn: Any = require("uvicorn", extra="serve", feature="edgeml serve")
    runtime: Any = require("edgeml.runtime", extra="litert", feature="edgeml serve")
    from edgeml.monitor._app import create_app

    if args.port < 0 or args.port > 65535:
        raise ConfigError(f"--port must be in 0..65535; got {args.port}.")
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
        **options,
    )
    if args.host not in _LOOPBACK:
        print(
            f"edgeml serve: warning: listening on {args.host}, reachable from other machines; "
            "put it behind an authenticating proxy.",
            file=sys.stderr,
        )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
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
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level",
    )
    return parser
