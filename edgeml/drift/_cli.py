"""``edgeml drift``: compare two tables from files and print the drift report.

Register with ``SUBCOMMANDS["drift"] = "edgeml.drift._cli"`` in :mod:`edgeml.cli`.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="edgeml")
>>> _ = add_parser(parser.add_subparsers())
>>> args = parser.parse_args(["drift", "ref.csv", "cur.csv", "--numeric", "psi,ks"])
>>> args.numeric, args.correction, args.format
('psi,ks', 'bh', 'markdown')
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeml._html import page
from edgeml._io import atomic_write, checked_path, load_array_file, path_error
from edgeml.errors import DataError, PathError

__all__ = ["add_parser", "read_table", "run"]

#: Exit code of ``--fail-on-drift`` when the dataset verdict is "drift".
DRIFT_EXIT_CODE = 3


def _csv_columns(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise DataError(f"{path} needs a header row and at least one data row.")
    header, body = rows[0], rows[1:]
    if any(len(row) != len(header) for row in body):
        raise DataError(f"{path}: every row must have {len(header)} fields like the header.")
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        cells = [row[j] for row in body]
        try:
            columns[name] = np.array([float(c) if c.strip() else np.nan for c in cells])
        except ValueError:
            columns[name] = np.array(cells, dtype=object)
    return columns


def read_table(path: str | Path) -> Any:
    r"""Read a table from ``.csv`` (header row), ``.npy`` or ``.npz`` (one array).

    CSV columns whose cells all parse as numbers (empty cells become NaN) are numeric;
    other columns are categorical strings.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    numpy.ndarray or dict of str to numpy.ndarray

    Raises
    ------
    DataError
        Unknown extension, a path that does not exist, is a folder or cannot be read, a
        corrupt file, an object (pickled) array, or an ``.npz`` without exactly one array.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = target.write_text("age,city\n31,paris\n,lyon\n")
    >>> table = read_table(target)
    >>> table["age"].tolist(), table["city"].tolist()
    ([31.0, nan], ['paris', 'lyon'])
    """
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".npy", ".npz"):
        raise DataError(
            f"{source}: use a .csv, .npy or .npz file (got {suffix or 'no extension'})."
        )
    try:  # refuses folders, FIFOs and devices before numpy or csv open them
        checked_path(source, owner="edgeml drift", argument="table", expected="a readable file")
    except PathError as exc:
        raise DataError(f"Cannot read {source}: {exc}") from exc
    try:
        if suffix == ".csv":
            return _csv_columns(source)
        if suffix == ".npy":
            return _npy_array(load_array_file(source, name=str(source)), source)
        with load_array_file(source, name=str(source)) as archive:
            names = list(archive.files)
            if len(names) != 1:
                raise DataError(f"{source} holds {len(names)} arrays; save exactly one.")
            return _npy_array(archive[names[0]], source)
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"Cannot read {source}: {exc.strerror or exc}.") from None
    except (ValueError, EOFError, csv.Error, zipfile.BadZipFile) as exc:
        # numpy: truncated or corrupt header, object arrays (pickles are never loaded);
        # csv: undecodable text, NUL bytes; zip: a damaged .npz
        raise DataError(
            f"Cannot read {source}: {type(exc).__name__}: {exc}. Fix: write it again with "
            "numpy.save / numpy.savez or as UTF-8 CSV."
        ) from None


def _npy_array(array: Any, source: Path) -> np.ndarray:
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufUS":
        kind = getattr(array, "dtype", type(array).__name__)
        raise DataError(
            f"{source} holds a {kind} array; expected numbers or strings. Fix: save a "
            "numeric or string array."
        )
    return array


def run(args: argparse.Namespace) -> int:
    """Run ``edgeml drift`` with parsed arguments; return the exit code.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    int
        0, or 3 with ``--fail-on-drift`` when the dataset drifted.
    """
    from edgeml.drift import compare

    report = compare(
        read_table(args.reference),
        read_table(args.current),
        numeric=tuple(m.strip() for m in args.numeric.split(",")),
        correction=None if args.correction == "none" else args.correction,
        alpha=args.alpha,
        drift_share=args.drift_share,
        nan_policy=args.nan_policy,
    )
    if args.format == "html":  # the page DriftReport.save_html writes
        text = page("Drift report", report._html_sections()).rstrip("\n")
    elif args.format == "json":
        text = json.dumps(report.to_dict(), indent=2)
    else:
        text = report.to_markdown()
    if args.output:
        try:
            atomic_write(args.output, text + "\n")
        except PathError:
            raise
        except OSError as exc:  # a missing folder, no permission, a full disk
            raise path_error(
                "edgeml drift",
                "--output",
                args.output,
                exc,
                "a file in a writable folder",
                writing=True,
            ) from None
    else:
        sys.stdout.write(text + "\n")
    return DRIFT_EXIT_CODE if args.fail_on_drift and report.drifted else 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``drift`` subcommand.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction

    Returns
    -------
    argparse.ArgumentParser
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "drift",
        help="compare two tables (.csv/.npy/.npz) feature by feature",
        description=(
            "Test every feature of CURRENT against REFERENCE (PSI for numbers, chi-square "
            "for categories by default) and print the report with one dataset verdict."
        ),
    )
    parser.add_argument("reference", type=Path, help="reference table")
    parser.add_argument("current", type=Path, help="current table, same columns")
    parser.add_argument(
        "--numeric",
        default="psi",
        help="comma-separated tests for numeric columns, the first decides "
        "(psi, js, wasserstein, ks; default psi)",
    )
    parser.add_argument(
        "--correction",
        choices=("bh", "bonferroni", "none"),
        default="bh",
        help="multiple-testing correction for p-value tests (default bh)",
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="level for p-value tests")
    parser.add_argument(
        "--drift-share",
        type=float,
        default=0.5,
        help="the dataset drifted when at least this share of features drifted",
    )
    parser.add_argument("--nan-policy", choices=("raise", "omit"), default="raise")
    parser.add_argument(
        "--format",
        choices=("markdown", "json", "html"),
        default="markdown",
        help="html: a standalone page with the distribution charts (see DriftReport.save_html)",
    )
    parser.add_argument("--output", type=Path, help="write the report here instead of stdout")
    parser.add_argument(
        "--fail-on-drift",
        action="store_true",
        help=f"exit with code {DRIFT_EXIT_CODE} when the dataset drifted (for pipelines)",
    )
    parser.set_defaults(func=run)
    return parser
