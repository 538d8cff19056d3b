"""The public domain of a synthetic table: every column's categories, read from the policy.

Differential privacy protects the values in a table, not the categories a synthesizer
may produce, so those categories must be fixed before the data is looked at. They come
from the policy alone (never from the table):

- ``bins(...)`` (alone or as the last step of a ``chain``): its labels;
- any other transform, or a column released as-is: the categories the caller declares
  in ``domains={column: [...]}`` (after the transform, e.g. ``truncate(3)`` then
  ``domains={"zip": ["941", "100"]}``);
- ``top_k(k)`` (alone or last in a chain): the declared categories plus its ``other``
  label. ``top_k`` picks its categories from the data, so without declared categories
  the column is refused; with them, values outside the declared list become ``other``;
- ``suppress()``: carried through as missing, never modelled.

Missing values (``None``, ``NaN``) are an explicit category, ``None``, appended to every
column's domain (``missing="category"``), or refused (``missing="refuse"``).

Examples
--------
>>> from edgeml.data import Policy, bins
>>> from edgeml.data.synthesis.domain import synthesis_domain
>>> policy = Policy(keep={"age": bins([0, 40, 120]), "sex": None})
>>> domain = synthesis_domain(policy, domains={"sex": ["F", "M"]})
>>> [c.categories for c in domain.columns]
[('[0, 40)', '[40, 120]', None), ('F', 'M', None)]
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeml.data.policy import Policy
from edgeml.data.transforms import Bins, Chain, Suppress, TopK, Transform
from edgeml.errors import ConfigError, DataError, invalid_argument

__all__ = ["ColumnDomain", "SynthesisDomain", "encode", "synthesis_domain"]

_MISSING = ("category", "refuse")


@dataclasses.dataclass(frozen=True)
class ColumnDomain:
    """One column's public categories.

    Attributes
    ----------
    name : str
        The column.
    categories : tuple
        The values a synthetic row may hold, in a fixed order; ``None`` (last) stands
        for a missing value when ``missing="category"``.
    source : str
        Where the categories come from (``"bins labels"``, ``"declared"``...).
    before : Transform or None
        What is applied to the raw column before values are matched to categories.
    other : str or None
        For ``top_k``: the category values outside the declared list become.
    """

    name: str
    categories: tuple[Any, ...]
    source: str
    before: Transform | None = None
    other: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (categories as given; ``None`` for missing)."""
        return {"name": self.name, "categories": list(self.categories), "source": self.source}


@dataclasses.dataclass(frozen=True)
class SynthesisDomain:
    """The modelled columns, the suppressed and omitted ones, and the missing-value rule.

    Attributes
    ----------
    columns : tuple of ColumnDomain
        The columns the synthesizer models, in the policy's order.
    suppressed : tuple of str
        Columns the policy suppresses: present in the output, always missing.
    omitted : dict of str to str
        Released columns that are not synthesized, with the reason (pseudonyms).
    missing : str
        ``"category"`` or ``"refuse"``.
    """

    columns: tuple[ColumnDomain, ...]
    suppressed: tuple[str, ...]
    omitted: Mapping[str, str]
    missing: str

    @property
    def names(self) -> tuple[str, ...]:
        """The modelled columns' names."""
        return tuple(c.name for c in self.columns)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of categories of each modelled column."""
        return tuple(len(c.categories) for c in self.columns)

    @property
    def candidate_pairs(self) -> tuple[tuple[str, str], ...]:
        """Every pair of modelled columns: the edges the tree is chosen from."""
        return tuple(itertools.combinations(self.names, 2))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "columns": [c.to_dict() for c in self.columns],
            "suppressed": list(self.suppressed),
            "omitted": dict(self.omitted),
            "missing": self.missing,
        }


def _split_top_k(transform: Transform | None) -> tuple[Transform | None, TopK | None]:
    """Return (the steps before a final top_k, that top_k); refuse top_k elsewhere."""
    if transform is None:
        return None, None
    steps: list[Transform] = list(transform.steps) if isinstance(transform, Chain) else [transform]
    if any(isinstance(step, TopK) for step in steps[:-1]):
        raise ConfigError(
            "synthesize: top_k is only supported as the last step of a chain, because the "
            "categories it keeps depend on the data. Fix: move top_k last and declare its "
            "categories in domains={...}."
        )
    if isinstance(steps[-1], TopK):
        before = steps[:-1]
        prefix: Transform | None = (
            None if not before else before[0] if len(before) == 1 else Chain(tuple(before))
        )
        last = steps[-1]
        assert isinstance(last, TopK)
        return prefix, last
    return transform, None


def _declared(column: str, values: Any) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise invalid_argument(
            "synthesize",
            f"domains[{column!r}]",
            values,
            "a list of categories",
            fix=f"use domains={{{column!r}: ['a', 'b']}}",
        )
    categories = tuple(values)
    try:
        distinct = len(set(categories))
    except TypeError:
        raise invalid_argument(
            "synthesize",
            f"domains[{column!r}]",
            values,
            "a list of hashable categories",
            fix="list the category values themselves (strings or numbers)",
        ) from None
    if distinct != len(categories) or any(c is None for c in categories):
        raise invalid_argument(
            "synthesize",
            f"domains[{column!r}]",
            values,
            "a list of distinct categories without None (missing values have their own category)",
            fix="remove duplicates and None; use missing='category' to model missing values",
        )
    return categories


def synthesis_domain(
    policy: Policy,
    *,
    domains: Mapping[str, Sequence[Any]] | None = None,
    missing: str = "category",
    max_categories: int = 1000,
) -> SynthesisDomain:
    """Build the public domain of a synthetic table from the policy alone.

    Parameters
    ----------
    policy : Policy
        The minimization policy; its ``keep`` columns are synthesized.
    domains : mapping of str to sequence, optional
        Declared categories for columns whose transform does not fix them (released
        as-is, ``truncate``, ``round_to``, ``coarsen_*``, ``redact``, ``top_k``).
    missing : {"category", "refuse"}, default "category"
        Missing values become the category ``None``, or are refused.
    max_categories : int, default 1000
        Most categories a column may have (each pair of columns costs the product of
        their sizes in memory and noise).

    Returns
    -------
    SynthesisDomain
        The domain; it depends on nothing but the arguments.

    Raises
    ------
    ConfigError
        A column without a public domain, a data-dependent transform without declared
        categories, a column with a single category, too many categories, or fewer
        than two modelled columns.

    Examples
    --------
    >>> from edgeml.data import Policy, bins, top_k
    >>> policy = Policy(keep={"age": bins([0, 40, 120]), "city": top_k(2)})
    >>> domain = synthesis_domain(policy, domains={"city": ["Oslo", "Rome"]},
    ...                           missing="refuse")
    >>> domain.sizes, domain.candidate_pairs
    ((2, 3), (('age', 'city'),))
    """
    if not isinstance(policy, Policy):
        raise invalid_argument(
            "synthesize",
            "policy",
            policy,
            "an edgeml.data.Policy",
            fix="pass the Policy the table is minimized with",
        )
    if missing not in _MISSING:
        raise invalid_argument(
            "synthesize",
            "missing",
            missing,
            "'category' or 'refuse'",
            fix="use missing='category' to model missing values as the category None",
        )
    if (
        isinstance(max_categories, bool)
        or not isinstance(max_categories, int)
        or max_categories < 2
    ):
        raise invalid_argument(
            "synthesize", "max_categories", max_categories, "an integer >= 2", fix="use 1000"
        )
    declared = dict(domains or {})
    if not isinstance(domains, (Mapping, type(None))):
        raise invalid_argument(
            "synthesize",
            "domains",
            domains,
            "a dict of column -> categories",
            fix="use domains={'sex': ['F', 'M']}",
        )
    unknown = sorted(set(declared) - set(policy.keep))
    if unknown:
        raise ConfigError(
            f"synthesize: domains names {unknown}, which the policy does not keep. Fix: add "
            "them to the policy's keep={...} or remove them from domains."
        )
    columns: list[ColumnDomain] = []
    suppressed: list[str] = []
    for name, transform in policy.keep.items():
        categories: tuple[Any, ...]
        other: str | None
        if isinstance(transform, Suppress):
            suppressed.append(name)
            continue
        before, chosen = _split_top_k(transform)
        last = before.steps[-1] if isinstance(before, Chain) else before
        if isinstance(last, Bins) and chosen is None:
            if name in declared:
                raise ConfigError(
                    f"synthesize: column {name!r} is binned, so its categories are the bin "
                    "labels; domains cannot redeclare them. Fix: remove it from domains."
                )
            categories, source, other = tuple(last.labels), "bins labels", None
        elif name in declared:
            categories = _declared(name, declared[name])
            source, other = "declared", None
            if chosen is not None:
                other = chosen.other
                if other not in categories:
                    categories = (*categories, other)
                source = f"declared, others -> {other!r} (top_k)"
        else:
            how = (
                "top_k picks its categories from the data"
                if chosen is not None
                else "it is released as-is"
                if transform is None
                else f"its transform ({transform.describe()}) does not fix its categories"
            )
            raise ConfigError(
                f"synthesize: column {name!r} has no public domain: {how}, and a domain "
                "read from the data would leak it. Fix: end its transform with "
                "edgeml.data.bins([...]), or declare its categories with "
                f"domains={{{name!r}: [...]}}."
            )
        if len(categories) < 2:
            raise ConfigError(
                f"synthesize: column {name!r} has a single category {categories!r}, so it "
                "carries no information to synthesize. Fix: drop it from the policy, or "
                "declare more categories."
            )
        if len(categories) > max_categories:
            raise ConfigError(
                f"synthesize: column {name!r} has {len(categories)} categories, more than "
                f"max_categories={max_categories}; its 2-way marginals would be mostly "
                "noise. Fix: generalize it further (coarser bins, top_k with fewer declared "
                "categories) or raise max_categories."
            )
        if missing == "category":
            categories = (*categories, None)
        columns.append(ColumnDomain(name, tuple(categories), source, before, other))
    if len(columns) < 2:
        raise ConfigError(
            f"synthesize: the policy gives {len(columns)} column(s) to synthesize "
            f"({[c.name for c in columns]}); a synthetic table needs at least two, since "
            "one column is just its histogram. Fix: keep more columns, or release the "
            "histogram with edgeml.privacy.mechanisms.dp_histogram."
        )
    omitted = dict.fromkeys(
        policy.pseudonymize, "pseudonymized identifier: a synthetic row is no one"
    )
    return SynthesisDomain(tuple(columns), tuple(suppressed), omitted, missing)


def encode(domain: SynthesisDomain, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Map transformed columns to category indices, one row per record.

    Parameters
    ----------
    domain : SynthesisDomain
        The public domain.
    columns : mapping of str to numpy.ndarray
        Each modelled column after its ``before`` transform.

    Returns
    -------
    numpy.ndarray
        Integer codes of shape ``(n_rows, n_columns)``.

    Raises
    ------
    DataError
        A value outside the declared categories (the message gives counts and row
        numbers, never the value), or a missing value with ``missing="refuse"``.
    """
    n_rows = len(next(iter(columns.values()))) if columns else 0
    codes = np.empty((n_rows, len(domain.columns)), dtype=np.int32)
    for position, column in enumerate(domain.columns):
        values = columns[column.name]
        lookup = {c: i for i, c in enumerate(column.categories) if c is not None}
        missing_code = len(column.categories) - 1 if domain.missing == "category" else -2
        items = values.tolist()
        if values.dtype.kind == "f":
            nan = np.isnan(values).tolist()
            items = [None if gone else v for v, gone in zip(items, nan, strict=True)]
        other_code = -1 if column.other is None else lookup[column.other]
        out = np.fromiter(
            (
                missing_code
                if v is None or (isinstance(v, float) and v != v)
                else lookup.get(v, other_code)
                for v in items
            ),
            dtype=np.int32,
            count=n_rows,
        )
        for bad, why, fix in (
            (
                -1,
                "values outside its declared categories",
                "declare them in domains, or "
                "generalize the column so that its values fall in the declared categories",
            ),
            (
                -2,
                "missing values",
                "fill them, or pass missing='category' to model them as the category None",
            ),
        ):
            rows = np.flatnonzero(out == bad)
            if rows.size:
                raise DataError(
                    f"synthesize: column {column.name!r} has {rows.size} {why} (rows "
                    f"{rows[:5].tolist()}; values not shown, they may be personal). "
                    f"Fix: {fix}."
                )
        codes[:, position] = out
    return codes


def decode(column: ColumnDomain, codes: np.ndarray) -> np.ndarray:
    """Map category indices back to category values (an object array)."""
    categories = np.empty(len(column.categories), dtype=object)
    categories[:] = list(column.categories)
    return np.asarray(categories[codes], dtype=object)
