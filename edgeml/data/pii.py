"""Find personal data in columns and free text, and redact it.

Text is first normalized for matching (Unicode NFKC, so full-width digits and no-break
spaces read as ASCII; zero-width and other format characters removed; every Unicode space
and dash read as an ASCII one), while every position reported still points into the
original string. One compiled regular expression then proposes candidates for every type
in a single pass over all strings of a column (joined with newlines, so the scan runs in
C, not per string); a run of digit groups that fails as a whole is split at its
separators and each part tried again, so several cards in one note are all found. Only
candidates are then validated with the cheap checks that keep false positives down
(Luhn for cards, ISO 7064 mod-97 for IBANs, the SSA rules for US SSNs, :mod:`ipaddress`
for IP addresses, a real calendar date for dates of birth, coordinate ranges for GPS).

Person names, street addresses and other free-text identifiers are *not* detected: there
is no named-entity model here. Drop or pseudonymize such columns by policy.

Findings report where personal data was seen (row positions), never the values.

Examples
--------
>>> from edgeml.data import detect_pii
>>> scan = detect_pii({"note": ["mail bob@example.com", "ok", "card 4111 1111 1111 1111"]})
>>> [(f.column, f.pii_type, f.count, f.examples) for f in scan.findings]
[('note', 'credit_card', 1, (2,)), ('note', 'email', 1, (0,))]
>>> from edgeml.data.pii import redact_values
>>> redact_values(["call +44 20 7946 0958 now"]).tolist()
['call <PHONE> now']
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml.data._pii_spans import _find_spans
from edgeml.errors import invalid_argument

__all__ = [
    "PII_TYPES",
    "PIIFinding",
    "PIIScan",
    "detect_pii",
    "redact_values",
    "scan_values",
]

#: Every type :func:`detect_pii` can report, with the placeholder :func:`redact` uses.
PII_TYPES: Mapping[str, str] = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ipv4": "<IP>",
    "ipv6": "<IP>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
    "us_ssn": "<SSN>",
    "date_of_birth": "<DOB>",
    "gps": "<GPS>",
    "column_name": "",
}

# Confidence that a validated candidate of each type really is that type.
_SCORES = {
    "email": 0.95,
    "iban": 0.99,
    "credit_card": 0.9,
    "us_ssn": 0.85,
    "ipv4": 0.8,
    "ipv6": 0.8,
    "gps": 0.75,
    "phone_e164": 0.85,
    "phone_national": 0.6,
    "date_of_birth": 0.7,
}

_REASONS = {
    "email": "local@domain.tld shape",
    "iban": "IBAN shape and ISO 7064 mod-97 checksum",
    "credit_card": "13-19 digits passing the Luhn checksum",
    "us_ssn": "AAA-GG-SSSS with a valid area, group and serial",
    "ipv4": "dotted quad with octets 0-255",
    "ipv6": "valid IPv6 address",
    "gps": "latitude, longitude pair within range",
    "phone_e164": "E.164 number (+ country code, 8-15 digits)",
    "phone_national": "common national phone format",
    "date_of_birth": "a calendar date next to a birth keyword or in a birth-date column",
}

_NAME_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

# Column-name tokens that suggest personal data, with the type they suggest and a score.
_SUSPICIOUS_NAMES: Mapping[str, tuple[str, float]] = {
    **dict.fromkeys(("name", "firstname", "lastname", "surname", "fullname"), ("name", 0.6)),
    **dict.fromkeys(("username", "login", "nickname"), ("name", 0.5)),
    **dict.fromkeys(("address", "street", "addr"), ("address", 0.6)),
    **dict.fromkeys(("email", "mail", "e-mail"), ("email", 0.6)),
    **dict.fromkeys(("phone", "mobile", "tel", "telephone", "cell"), ("phone", 0.6)),
    **dict.fromkeys(("ssn", "passport", "nationalid", "taxid"), ("national_id", 0.7)),
    **dict.fromkeys(("dob", "birthdate", "birthday", "birth"), ("date_of_birth", 0.6)),
    **dict.fromkeys(("ip", "ipaddress"), ("ip_address", 0.5)),
    **dict.fromkeys(("iban", "creditcard", "card", "pan"), ("financial", 0.6)),
    **dict.fromkeys(("lat", "latitude", "lon", "lng", "longitude", "gps"), ("gps", 0.5)),
    **dict.fromkeys(("zip", "postcode", "postal", "zipcode"), ("postcode", 0.3)),
}
_BIRTH_COLUMN_TYPES = frozenset({"date_of_birth"})


@dataclasses.dataclass(frozen=True)
class PIIFinding:
    """Personal data of one type found in one column.

    Attributes
    ----------
    column : str
        The column (``"values"`` when a plain sequence was scanned).
    pii_type : str
        One of :data:`PII_TYPES` (``"column_name"`` for a finding from the name alone).
    count : int
        How many rows hold at least one match of this type.
    rows_scanned : int
        How many rows were scanned.
    score : float
        Confidence in ``[0, 1]`` that this really is personal data.
    reason : str
        Why it was reported (the checks it passed).
    examples : tuple of int
        Up to five row positions with a match (positions, never values).
    """

    column: str
    pii_type: str
    count: int
    rows_scanned: int
    score: float
    reason: str
    examples: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(dataclasses.asdict(self)))

    def __repr__(self) -> str:
        return (
            f"PIIFinding(column={self.column!r}, pii_type={self.pii_type!r}, "
            f"count={self.count}, score={self.score:.2f})"
        )


@dataclasses.dataclass(frozen=True)
class PIIScan:
    """What :func:`detect_pii` found, column by column.

    Attributes
    ----------
    findings : tuple of PIIFinding
        Sorted by column, then type.
    rows_scanned : int
        Rows scanned per column (after sampling).
    """

    findings: tuple[PIIFinding, ...]
    rows_scanned: int

    def columns(self, min_score: float = 0.0) -> tuple[str, ...]:
        """Return the columns with a finding scoring at least ``min_score``.

        Parameters
        ----------
        min_score : float, default 0.0
            The lowest score that counts.

        Returns
        -------
        tuple of str
            Column names in order of first appearance.

        Examples
        --------
        >>> detect_pii({"email": ["x"], "age": [3]}).columns(min_score=0.5)
        ('email',)
        """
        return tuple(dict.fromkeys(f.column for f in self.findings if f.score >= min_score))

    def __bool__(self) -> bool:
        return bool(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"rows_scanned": self.rows_scanned, "findings": [f.to_dict() for f in self.findings]}

    def _rows(self) -> list[list[Any]]:
        return [
            [f.column, f.pii_type, f.count, f.score, f.reason, ", ".join(map(str, f.examples))]
            for f in self.findings
        ]

    _HEADERS = ("column", "type", "rows", "score", "reason", "example rows")

    def to_markdown(self) -> str:
        """Return the findings as a Markdown table."""
        return markdown_table(self._HEADERS, self._rows())

    def _repr_html_(self) -> str:
        return html_table(self._HEADERS, self._rows(), caption="PII findings")

    def __repr__(self) -> str:
        kinds = sorted({f"{f.column}:{f.pii_type}" for f in self.findings})
        return f"PIIScan(rows_scanned={self.rows_scanned}, findings={kinds})"


def _public_type(detail: str) -> str:
    return "phone" if detail.startswith("phone") else detail


_BYTES_TYPES = (bytes, bytearray, memoryview)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, _BYTES_TYPES):  # personal data hides in bytes too
        return bytes(value).decode("utf-8", "replace")
    return ""


def _as_text_list(values: np.ndarray) -> list[str] | None:
    """Return the strings to scan, or ``None`` when the column holds no text.

    Bytes (``bytes`` items, or a numpy ``S`` array) are read as UTF-8.
    """
    if values.dtype.kind in "US":
        return [_as_text(v) for v in values.tolist()]
    if values.dtype.kind != "O":
        return None
    items: list[Any] = values.tolist()
    kinds = set(map(type, items))
    if kinds == {str}:
        return items
    if str not in kinds and not any(issubclass(kind, _BYTES_TYPES) for kind in kinds):
        return None
    return [_as_text(v) for v in items]


def _column_argument(owner: str, values: Any, column: Any) -> np.ndarray:
    """Check the arguments shared by :func:`scan_values` and :func:`redact_values`."""
    if not isinstance(column, str):
        raise invalid_argument(owner, "column", column, "a column name (str)")
    if not isinstance(values, np.ndarray) and hasattr(values, "__array__"):
        values = np.asarray(values, dtype=object)  # a pandas Series, an array-like
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise invalid_argument(
                owner, "values", f"an array of shape {values.shape}", "a 1-D column of values"
            )
        return values
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise invalid_argument(
            owner, "values", values, "a sequence of values (one per row)", fix="wrap it: [value]"
        )
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)  # never a 2-D array, whatever the items are
    return array


def _types_argument(owner: str, types: Any) -> frozenset[str]:
    known = sorted(t for t in PII_TYPES if t != "column_name")
    if isinstance(types, str) or not isinstance(types, Iterable):
        raise invalid_argument(owner, "types", types, f"a list of PII types from {known}")
    wanted = list(types)
    if not wanted or not all(isinstance(t, str) and t in known for t in wanted):
        raise invalid_argument(owner, "types", wanted, f"a non-empty list of types from {known}")
    return frozenset(wanted)


def scan_values(
    values: Sequence[Any] | np.ndarray, *, column: str = "values"
) -> list[tuple[int, int, int, str]]:
    """Return every validated PII span in a column of strings.

    Parameters
    ----------
    values : sequence or numpy.ndarray
        The column; items that are not strings are skipped.
    column : str, default "values"
        The column's name; a name that suggests a birth date turns every valid date in
        it into a ``date_of_birth`` match.

    Returns
    -------
    list of (row, start, end, type)
        Row position, span within that row's string, and detailed type (``phone`` is
        split into ``phone_e164`` and ``phone_national``).

    Examples
    --------
    >>> scan_values(["x 123-45-6789", "none"])
    [(0, 2, 13, 'us_ssn')]
    """
    array = _column_argument("scan_values", values, column)
    texts = _as_text_list(array)
    if not texts:
        return []
    birth_column = _column_name_type(column) in _BIRTH_COLUMN_TYPES
    joined = "\n".join(texts)
    # Start offset of each row's text inside ``joined``.
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    spans = _find_spans(joined, birth_column)
    if not spans:
        return []
    offsets = np.fromiter((start for start, _, _ in spans), dtype=np.int64, count=len(spans))
    rows = np.searchsorted(starts, offsets, side="right") - 1
    return [
        (int(row), start - int(starts[row]), end - int(starts[row]), kind)
        for row, (start, end, kind) in zip(rows.tolist(), spans, strict=True)
    ]


def redact_values(
    values: Sequence[Any] | np.ndarray,
    *,
    types: Iterable[str] | None = None,
    column: str = "values",
) -> np.ndarray:
    """Replace PII spans in strings by typed placeholders such as ``<EMAIL>``.

    Parameters
    ----------
    values : sequence or numpy.ndarray
        The strings; bytes are read as UTF-8 and, when they hold PII, come back as the
        redacted ``str``; other items (``None``, numbers) are returned unchanged.
    types : iterable of str, optional
        Only redact these types (keys of :data:`PII_TYPES`); all of them by default.
    column : str, default "values"
        The column's name (see :func:`scan_values`).

    Returns
    -------
    numpy.ndarray
        An object array of the same length.

    Examples
    --------
    >>> redact_values(["ip 10.0.0.1, born 1990-02-03", None]).tolist()
    ['ip <IP>, born <DOB>', None]
    """
    array = _column_argument("redact_values", values, column)
    out = np.array(array, dtype=object, copy=True)
    wanted = None if types is None else _types_argument("redact_values", types)
    by_row: dict[int, list[tuple[int, int, str]]] = {}
    for row, start, end, detail in scan_values(array, column=column):
        public = _public_type(detail)
        if wanted is None or public in wanted:
            by_row.setdefault(row, []).append((start, end, PII_TYPES[public]))
    for row, spans in by_row.items():
        text = _as_text(out[row])  # bytes come back as redacted str
        for start, end, placeholder in sorted(spans, reverse=True):
            text = text[:start] + placeholder + text[end:]
        out[row] = text
    return out


def _name_hit(name: str) -> tuple[str, str, float] | None:
    """Return (token, suggested type, score) of the most suspicious token of a column name."""
    tokens = [t.lower() for t in _NAME_TOKEN.findall(name.replace("-", "_"))]
    candidates = [*tokens, "".join(tokens), *(a + b for a, b in itertools.pairwise(tokens))]
    hits = [(t, *_SUSPICIOUS_NAMES[t]) for t in candidates if t in _SUSPICIOUS_NAMES]
    return max(hits, key=lambda hit: hit[2]) if hits else None


def _column_name_type(name: str) -> str | None:
    hit = _name_hit(name)
    return None if hit is None else hit[1]


def _column_name_finding(name: str, rows: int) -> PIIFinding | None:
    hit = _name_hit(name)
    if hit is None:
        return None
    token, suggested, score = hit
    reason = f"column name token {token!r} suggests {suggested.replace('_', ' ')}"
    return PIIFinding(name, "column_name", 0, rows, score, reason, ())


def _numeric_findings(name: str, values: np.ndarray) -> list[PIIFinding]:
    """Return findings for numeric columns: GPS by name and range, card-like integers."""
    rows = len(values)
    if values.dtype.kind == "f" and _column_name_type(name) == "gps":
        finite = values[np.isfinite(values)]
        decimals = np.abs(finite * 1000 - np.round(finite * 1000)) > 1e-6
        if finite.size and np.all(np.abs(finite) <= 180) and np.mean(decimals) > 0.5:
            examples = tuple(int(i) for i in np.flatnonzero(np.isfinite(values))[:5])
            reason = "coordinates with more than 3 decimals in a latitude/longitude column"
            return [PIIFinding(name, "gps", int(finite.size), rows, 0.8, reason, examples)]
    if values.dtype.kind in "iu":
        big = np.flatnonzero(np.abs(values.astype(np.float64)) >= 1e6)
        if big.size:
            texts = np.array([str(int(v)) for v in values[big]], dtype=object)
            found = scan_values(texts, column=name)
            moved = [(int(big[row]), start, end, kind) for row, start, end, kind in found]
            return _group_findings(name, moved, rows)
    return []


def _group_findings(
    column: str, matches: Sequence[tuple[int, int, int, str]], rows_scanned: int
) -> list[PIIFinding]:
    rows_by_detail: dict[str, list[int]] = {}
    for row, _start, _end, detail in matches:
        rows_by_detail.setdefault(detail, []).append(row)
    merged: dict[str, tuple[set[int], float, list[str]]] = {}
    for detail, detail_rows in rows_by_detail.items():
        public = _public_type(detail)
        seen, score, reasons = merged.get(public, (set(), 0.0, []))
        merged[public] = (
            seen | set(detail_rows),
            max(score, _SCORES[detail]),
            [*reasons, _REASONS[detail]],
        )
    findings = []
    for public, (seen, score, reasons) in merged.items():
        ordered = sorted(seen)
        findings.append(
            PIIFinding(
                column,
                public,
                len(ordered),
                rows_scanned,
                score,
                "; ".join(reasons),
                tuple(ordered[:5]),
            )
        )
    return findings


def _sample_positions(n_rows: int, sample: int | None) -> np.ndarray | None:
    if sample is None or sample >= n_rows:
        return None
    return np.unique(np.linspace(0, n_rows - 1, num=sample).round().astype(np.int64))


def scan_column(name: str, values: np.ndarray, *, sample: int | None = None) -> list[PIIFinding]:
    """Return the findings for one column (name and values).

    Parameters
    ----------
    name : str
        The column name.
    values : numpy.ndarray
        Its values (object arrays of strings, numeric arrays).
    sample : int, optional
        Scan only this many evenly spaced rows.

    Returns
    -------
    list of PIIFinding
        Findings sorted by type.
    """
    positions = _sample_positions(len(values), sample)
    scanned = values if positions is None else values[positions]
    findings: list[PIIFinding] = []
    name_finding = _column_name_finding(name, len(scanned))
    if name_finding is not None:
        findings.append(name_finding)
    if scanned.dtype.kind in "OUS":
        matches = scan_values(scanned, column=name)
        findings += _group_findings(name, matches, len(scanned))
    else:
        findings += _numeric_findings(name, scanned)
    if positions is not None:
        findings = [
            dataclasses.replace(f, examples=tuple(int(positions[i]) for i in f.examples))
            for f in findings
        ]
    return sorted(findings, key=lambda f: f.pii_type)


def detect_pii(
    table: Any,
    *,
    sample: int | None = None,
    columns: Iterable[str] | None = None,
) -> PIIScan:
    """Find personal data in a table, a column or a sequence of strings.

    Parameters
    ----------
    table : DataFrame, dict of columns, list of dicts, structured array or sequence
        What to scan. A plain sequence of values is scanned as one column ``"values"``.
    sample : int, optional
        Scan at most this many evenly spaced rows per column (all rows by default).
    columns : iterable of str, optional
        Only scan these columns.

    Returns
    -------
    PIIScan
        Findings per column and type, with counts, scores, reasons and example rows.

    Examples
    --------
    >>> scan = detect_pii({"dob": ["1990-05-17"], "ip": ["2001:db8::1"], "x": [1.5]})
    >>> sorted((f.column, f.pii_type) for f in scan.findings)
    [('dob', 'column_name'), ('dob', 'date_of_birth'), ('ip', 'column_name'), ('ip', 'ipv6')]
    """
    from edgeml.data._table import read_table

    if sample is not None and (
        isinstance(sample, bool) or not isinstance(sample, int) or sample < 1
    ):
        raise invalid_argument("detect_pii", "sample", sample, "a positive integer or None")
    if isinstance(table, (list, tuple, np.ndarray)) and not _looks_like_table(table):
        data = {"values": np.asarray(table, dtype=object)}
        n_rows = len(table)
    else:
        parsed = read_table(table, owner="detect_pii")
        data, n_rows = dict(parsed.columns), parsed.n_rows
    if columns is not None:
        if isinstance(columns, str) or not isinstance(columns, Iterable):
            raise invalid_argument(
                "detect_pii", "columns", columns, "a list of column names", fix=f"use [{columns!r}]"
            )
        wanted = list(columns)
        if not all(isinstance(c, str) for c in wanted):
            raise invalid_argument("detect_pii", "columns", wanted, "a list of column names")
        unknown = [c for c in wanted if c not in data]
        if unknown:
            raise invalid_argument(
                "detect_pii", "columns", unknown, f"columns of the table {sorted(data)}"
            )
        data = {c: data[c] for c in wanted}
    findings: list[PIIFinding] = []
    for name, values in data.items():
        findings += scan_column(name, values, sample=sample)
    scanned = n_rows if sample is None else min(sample, n_rows)
    return PIIScan(tuple(sorted(findings, key=lambda f: (f.column, f.pii_type))), scanned)


def _looks_like_table(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.names is not None
    return bool(value) and all(isinstance(item, Mapping) for item in value)
