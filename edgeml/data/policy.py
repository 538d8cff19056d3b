"""The minimization policy: what to release, how, for which purpose, for how long.

A :class:`Policy` is an immutable value that round-trips through JSON, so it can be
reviewed and versioned like code; its :attr:`~Policy.policy_hash` identifies it in a
:class:`~edgeml.data.MinimizationReport`.

Examples
--------
>>> from edgeml.data import Policy, bins, truncate
>>> policy = Policy(keep={"age": bins([0, 18, 65, 120]), "zip": truncate(3), "hr": None},
...                 pseudonymize=["user_id"], purpose="training",
...                 consent_column="consent")
>>> Policy.from_json(policy.to_json()) == policy
True
>>> policy.released_columns
('age', 'zip', 'hr', 'user_id')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from edgeml._json import loads_bounded
from edgeml.data.transforms import Transform, transform_from_dict
from edgeml.errors import ConfigError, DataError, EdgeMLError, invalid_argument

__all__ = ["Policy"]

_SCHEMA = "edgeml.data.Policy/1"
#: Deepest nesting of lists and dicts accepted in a policy document (a chain of chains
#: of transforms is far shallower); deeper input is refused before it is decoded.
MAX_POLICY_DEPTH = 32
_JSON_SCALARS = (str, int, float, bool, type(None))
_SEPARATORS = re.compile(r"[,;|\s]+")


def _names(value: Any, argument: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise invalid_argument(
            "Policy", argument, value, "a list of column names", fix=f"use {argument}=[{value!r}]"
        )
    names = tuple(value)
    bad = [n for n in names if not isinstance(n, str) or not n]
    if bad:
        raise invalid_argument("Policy", argument, value, "a list of non-empty strings")
    if len(set(names)) != len(names):
        raise invalid_argument("Policy", argument, value, "a list without duplicates")
    return names


@dataclasses.dataclass(frozen=True, eq=False)
class Policy:
    """What :func:`~edgeml.data.minimize` releases; everything else is dropped.

    Parameters
    ----------
    keep : mapping of str to Transform or None
        Columns to release: ``None`` releases the column as-is (it is then scanned for
        PII), a transform generalizes it.
    pseudonymize : sequence of str, optional
        Identifier columns released as keyed HMAC-SHA256 pseudonyms (needs ``key=``).
        Stored as a tuple, like ``quasi_identifiers`` and ``allow_pii``.
    quasi_identifiers : sequence of str, optional
        Released columns that together could single a person out (age band, postcode...).
    k : int, optional
        With ``quasi_identifiers``: suppress rows whose combination of (transformed)
        quasi-identifiers occurs fewer than ``k`` times.
    purpose : str, optional
        The processing purpose; with ``consent_column``, rows not consenting to it are
        dropped.
    consent_column : str, optional
        Column holding each row's consented purposes: a string such as
        ``"training,analytics"`` or a list of purposes; ``"withdrawn"``, empty or missing
        means no consent.
    timestamp_column : str, optional
        Column holding when each row was collected (datetimes or ISO 8601 strings).
    retention_days : float, optional
        With ``timestamp_column``: rows older than this many days before ``now`` are dropped.
    allow_pii : sequence of str, optional
        Released columns allowed to contain PII (a reviewed decision, recorded in the
        report).
    pseudonym_length : int, default 16
        Hex characters per pseudonym digest (8-64).

    Raises
    ------
    ConfigError
        When the policy contradicts itself; the message names the field and the fix.
    """

    keep: Mapping[str, Transform | None] = dataclasses.field(default_factory=dict)
    pseudonymize: Sequence[str] = ()
    quasi_identifiers: Sequence[str] = ()
    k: int | None = None
    purpose: str | None = None
    consent_column: str | None = None
    timestamp_column: str | None = None
    retention_days: float | None = None
    allow_pii: Sequence[str] = ()
    pseudonym_length: int = 16

    def __post_init__(self) -> None:
        if not isinstance(self.keep, Mapping):
            raise invalid_argument(
                "Policy", "keep", self.keep, "a dict of column -> transform or None"
            )
        keep: dict[str, Transform | None] = {}
        for column, transform in self.keep.items():
            if not isinstance(column, str) or not column:
                raise invalid_argument("Policy", "keep", column, "keyed by non-empty column names")
            if transform is not None and not isinstance(transform, Transform):
                raise invalid_argument(
                    "Policy",
                    f"keep[{column!r}]",
                    transform,
                    "an edgeml.data transform or None (release as-is)",
                    fix="use e.g. edgeml.data.truncate(3), or None",
                )
            keep[column] = transform
        set_ = object.__setattr__
        set_(self, "keep", types.MappingProxyType(keep))
        for name in ("pseudonymize", "quasi_identifiers", "allow_pii"):
            set_(self, name, _names(getattr(self, name), name))
        both = sorted(set(keep) & set(self.pseudonymize))
        if both:
            raise ConfigError(
                f"Policy: columns {both} are both in keep and pseudonymize. Fix: list each "
                "released column once (pseudonymize releases it as pseudonyms)."
            )
        released = set(self.released_columns)
        if not released:
            raise ConfigError(
                "Policy: no column would be released (keep and pseudonymize are empty). "
                "Fix: declare the columns the model needs in keep={...}."
            )
        for name in ("quasi_identifiers", "allow_pii"):
            undeclared = [c for c in getattr(self, name) if c not in released]
            if undeclared:
                raise ConfigError(
                    f"Policy: {name} names {undeclared}, which the policy does not release. "
                    "Fix: add them to keep or pseudonymize, or remove them."
                )
        self._check_scalars()

    def _check_scalars(self) -> None:
        if self.k is not None:
            if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 2:
                raise invalid_argument("Policy", "k", self.k, "an integer >= 2 or None")
            if not self.quasi_identifiers:
                raise ConfigError(
                    "Policy: k is set but quasi_identifiers is empty. Fix: list the columns "
                    "that together could identify a person, e.g. quasi_identifiers=['age', 'zip']."
                )
        for name in ("purpose", "consent_column", "timestamp_column"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise invalid_argument("Policy", name, value, "a non-empty string or None")
        if self.purpose is not None and _SEPARATORS.search(self.purpose.strip()):
            suggestion = _SEPARATORS.sub("_", self.purpose.strip())
            raise invalid_argument(
                "Policy",
                "purpose",
                self.purpose,
                "one word (consent cells separate purposes with , ; | or spaces)",
                fix=f"use purpose={suggestion!r}",
            )
        if (self.purpose is None) != (self.consent_column is None):
            raise ConfigError(
                "Policy: purpose and consent_column go together (rows are kept when their "
                "consent column grants the purpose). Fix: set both or neither."
            )
        if self.retention_days is not None:
            days = self.retention_days
            if (
                isinstance(days, bool)
                or not isinstance(days, (int, float))
                or not 0 < days < math.inf
            ):
                raise invalid_argument(
                    "Policy", "retention_days", days, "a positive number of days"
                )
            if self.timestamp_column is None:
                raise ConfigError(
                    "Policy: retention_days needs timestamp_column (when each row was "
                    "collected). Fix: set timestamp_column='collected_at'."
                )
        length = self.pseudonym_length
        if isinstance(length, bool) or not isinstance(length, int) or not 8 <= length <= 64:
            raise invalid_argument("Policy", "pseudonym_length", length, "an integer in [8, 64]")

    @property
    def released_columns(self) -> tuple[str, ...]:
        """Columns in the output, in order: ``keep`` then ``pseudonymize``."""
        return (*self.keep, *self.pseudonymize)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns the input must have (released plus consent and timestamp columns)."""
        extra = [c for c in (self.consent_column, self.timestamp_column) if c is not None]
        return tuple(dict.fromkeys([*self.released_columns, *extra]))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (``from_dict`` turns it back into an equal policy).

        Examples
        --------
        >>> Policy(keep={"x": None}).to_dict()["keep"]
        {'x': None}
        """
        return {
            "schema": _SCHEMA,
            "keep": {c: None if t is None else t.to_dict() for c, t in self.keep.items()},
            "pseudonymize": list(self.pseudonymize),
            "quasi_identifiers": list(self.quasi_identifiers),
            "k": self.k,
            "purpose": self.purpose,
            "consent_column": self.consent_column,
            "timestamp_column": self.timestamp_column,
            "retention_days": self.retention_days,
            "allow_pii": list(self.allow_pii),
            "pseudonym_length": self.pseudonym_length,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from :meth:`to_dict` output (validated like the constructor).

        Parameters
        ----------
        data : mapping
            The dict.

        Returns
        -------
        Policy
            The policy.

        Raises
        ------
        ConfigError
            For anything that is not a valid policy document: wrong types, unknown
            fields, invalid transforms, nesting deeper than ``MAX_POLICY_DEPTH``.
        """
        _check_document(data)
        schema = data.get("schema", _SCHEMA)
        if schema != _SCHEMA:
            raise ConfigError(f"Cannot read a Policy with schema {schema!r}; expected {_SCHEMA!r}.")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields - {"schema"})
        if unknown:
            raise ConfigError(
                f"Unknown Policy fields {unknown}; expected some of {sorted(fields)}."
            )
        keep_data = data.get("keep", {})
        if not isinstance(keep_data, Mapping):
            raise ConfigError("Policy 'keep' must be a dict of column -> transform dict or null.")
        keep = {column: _read_transform(column, spec) for column, spec in keep_data.items()}
        rest = {k: v for k, v in data.items() if k in fields and k != "keep"}
        return cls(keep=keep, **rest)

    def to_json(self) -> str:
        """Return the policy as indented, key-sorted JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Policy:
        """Build a policy from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            JSON text.

        Returns
        -------
        Policy
            The policy.

        Raises
        ------
        ConfigError
            For text that is not JSON (or not str/bytes), is nested deeper than
            ``MAX_POLICY_DEPTH``, or does not describe a valid policy.

        Examples
        --------
        >>> Policy.from_json('{"keep": {"age": null}}').released_columns
        ('age',)
        >>> Policy.from_json('{"keep": {"age": ["not", "a", "transform"]}}')
        Traceback (most recent call last):
        ...
        edgeml.errors.ConfigError: Policy 'keep' entry for column 'age': Cannot read a transform ...
        """
        try:
            data = loads_bounded(text, max_depth=MAX_POLICY_DEPTH, what="The policy text")
        except DataError as exc:
            raise ConfigError(f"Cannot read a Policy: {exc}") from None
        return cls.from_dict(data)

    @property
    def policy_hash(self) -> str:
        """SHA-256 of the canonical JSON, to identify the exact policy a table went through."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # The read-only view of ``keep`` cannot be pickled; the JSON form can.
        return (Policy.from_dict, (self.to_dict(),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Policy):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.policy_hash)

    def __repr__(self) -> str:
        parts = [f"keep={list(self.keep)}"]
        for name in ("pseudonymize", "quasi_identifiers", "allow_pii"):
            if getattr(self, name):
                parts.append(f"{name}={list(getattr(self, name))}")
        for name in ("k", "purpose", "consent_column", "timestamp_column", "retention_days"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={getattr(self, name)!r}")
        return f"Policy({', '.join(parts)})"


def _check_document(data: Any) -> None:
    """Refuse anything but a dict of JSON values nested at most ``MAX_POLICY_DEPTH`` deep.

    One iterative walk (no recursion, so no :class:`RecursionError` on hostile input)
    that every policy document passes before any field is read.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"Cannot read a Policy from a {type(data).__name__}; expected a dict. "
            "Fix: pass the output of Policy.to_dict() or Policy.to_json()."
        )
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_POLICY_DEPTH:
            raise ConfigError(
                f"Cannot read a Policy nested more than {MAX_POLICY_DEPTH} levels deep. "
                "Fix: pass the output of Policy.to_dict()."
            )
        if isinstance(value, Mapping):
            bad = [key for key in value if not isinstance(key, str)]
            if bad:
                raise ConfigError(
                    f"Cannot read a Policy with a non-string key {bad[0]!r}; policy "
                    "documents are JSON objects. Fix: use string keys."
                )
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1) for item in value)
        elif not isinstance(value, _JSON_SCALARS):
            raise ConfigError(
                f"Cannot read a Policy holding a {type(value).__name__}; policy documents "
                "hold JSON values only (dicts, lists, strings, numbers, booleans, null)."
            )


def _read_transform(column: Any, spec: Any) -> Transform | None:
    """Rebuild one ``keep`` entry; any failure becomes a ConfigError naming the column."""
    if spec is None:
        return None
    try:
        return transform_from_dict(spec)
    except EdgeMLError as exc:
        raise ConfigError(f"Policy 'keep' entry for column {column!r}: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise ConfigError(
            f"Policy 'keep' entry for column {column!r} is not a valid transform "
            f"({type(exc).__name__}: {exc}). Fix: use the output of transform.to_dict()."
        ) from None
