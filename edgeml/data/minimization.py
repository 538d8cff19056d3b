"""``minimize``: apply a :class:`~edgeml.data.Policy` to a table and report what happened.

Order of work, so that nothing is half-applied: read and copy the table, validate every
column, the key, the timestamps and the consent values, and scan the columns released
as-is for PII; only then filter rows (consent, retention), transform columns, suppress
rows in equivalence classes smaller than ``k``, and build the output of the same kind as
the input. Any error happens before an output exists; the input is never modified.

Examples
--------
>>> from edgeml.data import Policy, bins, minimize
>>> records = [{"age": 34, "user_id": "u1", "email": "a@example.com"},
...            {"age": 71, "user_id": "u2", "email": "b@example.com"}]
>>> policy = Policy(keep={"age": bins([0, 40, 120])}, pseudonymize=["user_id"])
>>> table, report = minimize(records, policy, key=b"a secret key of 32 bytes........")
>>> sorted(table[0]), table[0]["age"]
(['age', 'user_id'], '[0, 40)')
>>> report.columns_dropped
{'email': 'not declared in the policy'}
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from typing import Any

import numpy as np

from edgeml.data._table import Table, read_table, write_table
from edgeml.data.anonymity import equivalence_classes
from edgeml.data.pii import PIIFinding, scan_column
from edgeml.data.policy import Policy
from edgeml.data.pseudonyms import pseudonymize, validate_key
from edgeml.data.report import DROP_REASONS, MinimizationReport
from edgeml.errors import DataError, PIIFoundError, invalid_argument

__all__ = ["PII_SCORE_THRESHOLD", "minimize"]

logger = logging.getLogger("edgeml.data")

#: Findings scoring at least this much in a column released as-is raise PIIFoundError.
PII_SCORE_THRESHOLD = 0.5

_WITHDRAWN = frozenset({"withdrawn", "revoked", "none", "no", "false", ""})
_SPLIT = re.compile(r"[,;|\s]+")


def _consent_masks(values: np.ndarray, purpose: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (withdrawn, lacks_purpose) row masks for the consent column."""
    wanted = purpose.strip().lower()
    cache: dict[Any, int] = {}

    def status(value: Any) -> int:  # 0 grants, 1 withdrawn / none, 2 other purposes only
        if value is None:
            return 1
        if isinstance(value, str):
            tokens = {t for t in _SPLIT.split(value.strip().lower()) if t}
        elif isinstance(value, (list, tuple, set, frozenset)) and all(
            isinstance(v, str) for v in value
        ):
            tokens = {v.strip().lower() for v in value}
        else:
            raise DataError(
                f"minimize: consent column {column!r} holds {type(value).__name__} values "
                f"such as {value!r}. Each row must list the purposes it consents to, e.g. "
                "'training,analytics' or ['training'], or 'withdrawn'. Fix: map booleans to "
                "the purpose they were collected for."
            )
        if not tokens or tokens & _WITHDRAWN:
            return 1
        return 0 if wanted in tokens else 2

    codes = np.empty(len(values), dtype=np.int8)
    for position, value in enumerate(values.tolist()):
        key = tuple(value) if isinstance(value, list) else value
        try:
            code = cache[key]
        except KeyError:
            code = cache[key] = status(value)
        except TypeError:
            code = status(value)
        codes[position] = code
    return codes == 1, codes == 2


def _epoch_seconds(value: Any, column: str) -> tuple[float, bool]:
    """Return (seconds since 1970-01-01, is_aware) for one timestamp."""
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError:
            raise DataError(
                f"minimize: timestamp column {column!r} holds {value!r}, which is not ISO "
                "8601. Fix: parse the column into datetimes first."
            ) from None
    if isinstance(value, np.datetime64):
        return float(value.astype("M8[us]").astype(np.int64)) / 1e6, False
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            return value.timestamp(), True
        return (value - _dt.datetime(1970, 1, 1)).total_seconds(), False
    if isinstance(value, _dt.date):
        return (value - _dt.date(1970, 1, 1)).total_seconds(), False
    raise DataError(
        f"minimize: timestamp column {column!r} holds {type(value).__name__} values such as "
        f"{value!r}; expected datetimes, dates or ISO 8601 strings."
    )


def _timestamps(values: np.ndarray, column: str) -> tuple[np.ndarray, bool | None]:
    """Return seconds since the epoch (NaN if missing) and whether they are time-zone aware."""
    if values.dtype.kind == "M":
        seconds = values.astype("M8[us]").astype(np.int64).astype(np.float64) / 1e6
        seconds[np.isnat(values)] = np.nan
        return seconds, False
    seconds = np.full(len(values), np.nan)
    awareness: set[bool] = set()
    cache: dict[Any, tuple[float, bool]] = {}
    for position, value in enumerate(values.tolist()):
        if value is None:
            continue
        try:
            parsed = cache[value]
        except KeyError:
            parsed = cache[value] = _epoch_seconds(value, column)
        seconds[position], aware = parsed
        awareness.add(aware)
    if len(awareness) > 1:
        raise DataError(
            f"minimize: timestamp column {column!r} mixes time-zone-aware and naive "
            "timestamps. Fix: make them all aware (e.g. UTC) or all naive."
        )
    return seconds, (awareness.pop() if awareness else None)


def _now_seconds(now: Any, column_aware: bool | None, column: str) -> tuple[float, str]:
    if now is None:
        if column_aware is False:
            raise DataError(
                f"minimize: timestamp column {column!r} holds naive timestamps (no time zone), "
                "so 'now' is ambiguous. Fix: pass now=datetime.datetime(...) in the same "
                "(naive) convention as the column, or store aware timestamps."
            )
        now = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(now, np.datetime64):
        now = now.astype("M8[us]").item()
    if not isinstance(now, _dt.datetime):
        raise invalid_argument("minimize", "now", now, "a datetime.datetime or None")
    now_aware = now.tzinfo is not None and now.utcoffset() is not None
    if column_aware is not None and now_aware != column_aware:
        kinds = ("aware", "naive") if column_aware else ("naive", "aware")
        raise DataError(
            f"minimize: timestamp column {column!r} holds time-zone-{kinds[0]} timestamps but "
            f"now={now!r} is {kinds[1]}; comparing them would shift ages by the UTC offset. "
            "Fix: pass now with the same kind (e.g. datetime.now(timezone.utc) for aware)."
        )
    seconds, _ = _epoch_seconds(now, "now")
    return seconds, now.isoformat()


def _check_pii(
    name: str, values: np.ndarray, policy: Policy, *, names_count: bool
) -> list[PIIFinding]:
    """Scan a released column; raise for confident findings unless the policy allows them."""
    findings = [
        f
        for f in scan_column(name, values)
        if f.score >= PII_SCORE_THRESHOLD and (names_count or f.pii_type != "column_name")
    ]
    if findings and name not in policy.allow_pii:
        worst = max(findings, key=lambda f: f.score)
        kinds = sorted({f.pii_type for f in findings})
        where = (
            f"{worst.count} rows, e.g. rows {list(worst.examples)}"
            if worst.count
            else "by its name"
        )
        raise PIIFoundError(
            f"minimize: column {name!r} would be released with personal data ({', '.join(kinds)}; "
            f"{worst.pii_type}: {where}; {worst.reason}). Fix: generalize it (e.g. "
            "edgeml.data.redact() for free text, truncate/bins otherwise), pseudonymize it, drop "
            f"it from the policy, or after review add it to allow_pii=[{name!r}]."
        )
    return findings


def _validate_columns(table: Table, policy: Policy) -> None:
    if table.n_rows == 0:
        raise DataError(
            "minimize: the table has no rows, so there is nothing to minimize and the PII and "
            "k-anonymity checks cannot be made. Fix: check the data source or filters."
        )
    missing = [c for c in policy.required_columns if c not in table.columns]
    if missing:
        raise DataError(
            f"minimize: the policy names column(s) {missing} that the table does not have "
            f"(it has {sorted(table.names)}). Fix: correct the policy or the column names."
        )
    for column, transform in policy.keep.items():
        if transform is not None:
            transform.check(table.columns[column], column)


def minimize(
    table: Any,
    policy: Policy,
    *,
    key: bytes | str | None = None,
    now: _dt.datetime | None = None,
) -> tuple[Any, MinimizationReport]:
    """Release only what ``policy`` declares, generalized, filtered and checked.

    Parameters
    ----------
    table : DataFrame, dict of columns, list of dicts or numpy structured array
        The raw records. It is never modified.
    policy : Policy
        What to release. Every column it does not name is dropped.
    key : bytes or str, optional
        Secret for keyed pseudonyms (at least 16 bytes); required when the policy
        pseudonymizes. It is never stored or logged.
    now : datetime.datetime, optional
        Reference time for retention (default: the current UTC time); it must be
        time-zone-aware exactly when the timestamp column is.

    Returns
    -------
    table : same kind as the input
        The minimized table (a DataFrame gets a fresh ``RangeIndex``: the index is not a
        declared column).
    report : MinimizationReport
        Columns kept, transformed, pseudonymized and dropped; rows dropped per reason; PII
        decisions; the k achieved; the policy hash.

    Raises
    ------
    DataError
        Empty table, a policy column missing from the table, values a transform cannot
        handle, unparseable or mixed naive/aware timestamps, bad consent values.
    PIIFoundError
        A released column (as-is, or through a transform that passes values through such
        as ``top_k``) contains PII and is not in ``allow_pii``.
    ConfigError
        Bad arguments, or a missing or too short key.

    Examples
    --------
    >>> import datetime as dt
    >>> data = {"heart_rate": [61, 75, 80],
    ...         "consent": ["training", "withdrawn", "training,research"],
    ...         "seen": ["2024-05-01", "2020-01-01", "2024-04-20"]}
    >>> policy = Policy(keep={"heart_rate": None}, purpose="training",
    ...                 consent_column="consent", timestamp_column="seen", retention_days=365)
    >>> out, report = minimize(data, policy, now=dt.datetime(2024, 6, 1))
    >>> out, report.rows_dropped
    ({'heart_rate': [61, 80]}, {'consent_withdrawn': 1})
    """
    if not isinstance(policy, Policy):
        raise invalid_argument("minimize", "policy", policy, "an edgeml.data.Policy")
    raw_key = validate_key(key, owner="minimize") if policy.pseudonymize else None
    parsed = read_table(table, owner="minimize", only=policy.required_columns)
    _validate_columns(parsed, policy)
    columns = parsed.columns
    n_rows = parsed.n_rows

    # Row filters, computed on the whole input before anything is transformed.
    keep_rows = np.ones(n_rows, dtype=bool)
    dropped: dict[str, int] = {}

    def drop(mask: np.ndarray, reason: str) -> None:
        newly = mask & keep_rows
        if newly.any():
            dropped[reason] = int(newly.sum())
            keep_rows[newly] = False

    if policy.consent_column is not None and policy.purpose is not None:
        withdrawn, lacks = _consent_masks(
            columns[policy.consent_column], policy.purpose, policy.consent_column
        )
        drop(withdrawn, "consent_withdrawn")
        drop(lacks, "no_consent_for_purpose")
    now_text = None
    if policy.retention_days is not None and policy.timestamp_column is not None:
        ts_column = policy.timestamp_column
        ts_values = columns[ts_column]
        ts_transform = policy.keep.get(ts_column)
        if ts_transform is not None:
            # Judge age on the released (coarsened) time: conservative and idempotent.
            ts_values = ts_transform.apply(ts_values, ts_column)
        seconds, aware = _timestamps(ts_values, ts_column)
        now_seconds, now_text = _now_seconds(now, aware, ts_column)
        drop(np.isnan(seconds), "missing_timestamp")
        age_days = (now_seconds - np.nan_to_num(seconds, nan=-np.inf)) / 86400.0
        drop(age_days > policy.retention_days, "retention")
    elif now is not None and not isinstance(now, _dt.datetime):
        raise invalid_argument("minimize", "now", now, "a datetime.datetime or None")

    # PII in columns released as-is: checked before any transform runs.
    findings: list[PIIFinding] = []
    every_row = bool(keep_rows.all())
    rows = np.flatnonzero(keep_rows)

    def kept(column: str) -> np.ndarray:
        # read_table already copied the column, so no second copy when no row is dropped
        return columns[column] if every_row else columns[column][rows]

    for column, transform in policy.keep.items():
        if transform is None:
            findings += _check_pii(column, kept(column), policy, names_count=True)

    # Transform, pseudonymize, then suppress small equivalence classes.
    out: dict[str, np.ndarray] = {}
    for column, transform in policy.keep.items():
        values = kept(column)
        if transform is None:
            out[column] = values
        else:
            out[column] = transform.apply(values, column)
            if transform.releases_raw_values:
                findings += _check_pii(column, out[column], policy, names_count=False)
    for column in policy.pseudonymize:
        assert raw_key is not None
        out[column] = pseudonymize(kept(column), key=raw_key, length=policy.pseudonym_length)
    k_achieved = None
    if policy.quasi_identifiers:
        labels, sizes = equivalence_classes(out, policy.quasi_identifiers)
        if policy.k is not None and len(labels):
            small = sizes[labels] < policy.k
            if small.any():
                dropped["k_anonymity"] = int(small.sum())
                out = {name: values[~small] for name, values in out.items()}
                labels = labels[~small]
        k_achieved = int(sizes[labels].min()) if len(labels) else 0
    rows_out = len(next(iter(out.values())))

    released = set(policy.released_columns)
    reasons = {
        policy.consent_column: "consent column (used to filter rows, not released)",
        policy.timestamp_column: "timestamp column (used for retention, not released)",
    }
    report = MinimizationReport(
        policy_hash=policy.policy_hash,
        rows_in=n_rows,
        rows_out=rows_out,
        rows_dropped={r: dropped[r] for r in DROP_REASONS if r in dropped},
        columns_kept=tuple(c for c, t in policy.keep.items() if t is None),
        columns_transformed={c: t.describe() for c, t in policy.keep.items() if t is not None},
        columns_pseudonymized=tuple(policy.pseudonymize),
        columns_dropped={
            c: reasons.get(c, "not declared in the policy")
            for c in parsed.names
            if c not in released
        },
        pii_findings=tuple(findings),
        pii_allowed=tuple(policy.allow_pii),
        quasi_identifiers=tuple(policy.quasi_identifiers),
        k_required=policy.k,
        k_achieved=k_achieved,
        purpose=policy.purpose,
        retention_days=policy.retention_days,
        now=now_text,
    )
    logger.info("minimize: %r", report)
    return write_table(out, parsed), report
