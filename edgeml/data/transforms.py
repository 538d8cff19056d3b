"""Generalizing transforms: small, composable, serializable column functions.

Each transform is a frozen dataclass. Calling it on a column (list or 1-D array) returns a
new numpy array and never changes its input. ``check`` validates a column without
transforming it, so :func:`~edgeml.data.minimize` can validate every column before it
transforms any. Missing values (``None``, ``NaN``, ``NaT``) stay missing. Every transform
is idempotent: applying it to its own output changes nothing, so minimizing twice is the
same as minimizing once. ``a.then(b)`` (or :func:`chain`) composes transforms, and
``to_dict`` / :func:`transform_from_dict` round-trip them through JSON.

Examples
--------
>>> from edgeml.data import bins, truncate, top_k
>>> bins([0, 18, 65, 120])([17, 40, 90]).tolist()
['[0, 18)', '[18, 65)', '[65, 120]']
>>> truncate(3)(["94107", "10001"]).tolist()
['941', '100']
>>> truncate(3).then(top_k(1))(["94107", "94110", "10001"]).tolist()
['941', '941', 'other']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeml.data._transform_base import Chain as Chain
from edgeml.data._transform_base import Transform as Transform
from edgeml.data._transform_base import chain as chain
from edgeml.data._transforms_numeric import Bins as Bins
from edgeml.data._transforms_numeric import CoarsenGeo as CoarsenGeo
from edgeml.data._transforms_numeric import CoarsenTime as CoarsenTime
from edgeml.data._transforms_numeric import RoundTo as RoundTo
from edgeml.data._transforms_numeric import bins as bins
from edgeml.data._transforms_numeric import coarsen_geo as coarsen_geo
from edgeml.data._transforms_numeric import coarsen_time as coarsen_time
from edgeml.data._transforms_numeric import round_to as round_to
from edgeml.data._transforms_text import Redact as Redact
from edgeml.data._transforms_text import Suppress as Suppress
from edgeml.data._transforms_text import TopK as TopK
from edgeml.data._transforms_text import Truncate as Truncate
from edgeml.data._transforms_text import redact as redact
from edgeml.data._transforms_text import suppress as suppress
from edgeml.data._transforms_text import top_k as top_k
from edgeml.data._transforms_text import truncate as truncate
from edgeml.errors import ConfigError

__all__ = [
    "Chain",
    "Transform",
    "bins",
    "chain",
    "coarsen_geo",
    "coarsen_time",
    "redact",
    "round_to",
    "suppress",
    "top_k",
    "transform_from_dict",
    "truncate",
]


_FACTORIES = {
    "bins": lambda d: bins(d["edges"], d.get("labels")),
    "truncate": lambda d: truncate(d["length"]),
    "round_to": lambda d: round_to(d["step"]),
    "coarsen_time": lambda d: coarsen_time(d["unit"]),
    "coarsen_geo": lambda d: coarsen_geo(d.get("decimals"), grid=d.get("grid")),
    "top_k": lambda d: top_k(d["k"], d.get("other", "other")),
    "redact": lambda d: redact(d.get("types")),
    "suppress": lambda d: suppress(),
    "chain": lambda d: chain(*(transform_from_dict(step) for step in d["steps"])),
}


def transform_from_dict(data: Mapping[str, Any]) -> Transform:
    """Rebuild a transform from :meth:`Transform.to_dict` output.

    Parameters
    ----------
    data : mapping
        A dict with a ``"transform"`` key naming the transform and its parameters.

    Returns
    -------
    Transform
        The rebuilt transform.

    Examples
    --------
    >>> transform_from_dict(truncate(3).to_dict()) == truncate(3)
    True
    """
    if not isinstance(data, Mapping) or data.get("transform") not in _FACTORIES:
        raise ConfigError(
            f"Cannot read a transform from {data!r}: expected a dict whose 'transform' is one "
            f"of {sorted(_FACTORIES)}."
        )
    try:
        return _FACTORIES[str(data["transform"])](data)  # type: ignore[no-untyped-call]
    except KeyError as missing:
        raise ConfigError(
            f"The {data['transform']!r} transform in {data!r} lacks the parameter {missing}."
        ) from None
