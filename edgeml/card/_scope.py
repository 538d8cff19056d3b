"""The card's privacy scope: each released part and what protects it.

Built by :meth:`ModelCard.build` from the sections it is given; the JSON shape is::

    {"covered": bool,                      # every listed part is protected
     "headline": str,                      # the guarantee, worded for what it covers
     "ledger": {"epsilon", "delta", "accountant",
                "releases": [{"name", "epsilon", "delta"}, ...]} or null,
     "parts": {"weights" | "quantization" | "drift_baseline" | "minimization_report"
               | "evaluation" | "metrics" | "audit":
               {"protection": "dp" | "public" | "held-out" | "not protected",
                "detail": str, "epsilon"?, "delta"?, "release"?}}}

Rules, with no guessing in the user's favour:

- ``weights``: DP with the privacy section's (epsilon, delta) when there is one, else
  not protected;
- ``quantization``: the conversion report's ``calibration_privacy``; without calibration
  data the ranges are derived from the weights alone and share their protection;
- ``drift_baseline``: the protection of the object passed (a
  :class:`~edgeml.privacy.DPBaseline` is DP); a plain ``Histogram`` of data is not
  protected;
- ``minimization_report``, ``evaluation``, ``metrics`` and ``audit`` are exact
  statistics of data the card cannot see: not protected unless ``protections=`` declares
  otherwise (e.g. an evaluation on a held-out split).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeml.errors import invalid_argument
from edgeml.privacy.scope import KINDS, Protection

__all__ = ["PARTS", "build_scope", "check_scope"]

#: The parts a scope may list, in display order, with the section each comes from.
PARTS: Mapping[str, str] = {
    "weights": "the trained parameters",
    "quantization": "scales and zero points of the quantized tensors",
    "drift_baseline": "the drift_baseline section",
    "minimization_report": "the data section",
    "evaluation": "the evaluation section",
    "metrics": "the metrics field",
    "audit": "the audit section",
}
_CALIBRATED = ("int8", "int16x8")
_SEEDED = "the noise was seeded: the guarantee does not hold against anyone who knows the seed"


def _protection(value: object, part: str) -> Protection:
    if isinstance(value, Protection):
        return value
    if isinstance(value, Mapping):
        return Protection.from_dict(value)
    if isinstance(value, str) and value in ("public", "held-out"):
        return Protection(value, "declared by the card's author")
    raise invalid_argument(
        "ModelCard.build",
        f"protections[{part!r}]",
        value,
        "an edgeml.privacy.Protection, its dict, or 'public' / 'held-out'",
    )


def _weights(privacy: Mapping[str, Any] | None, ledger: Mapping[str, Any] | None) -> Protection:
    if privacy is None or privacy.get("epsilon") is None:
        return Protection.none("no differential-privacy guarantee is given for the training")
    # name the ledger's DP-SGD entries (make_private records "dp-sgd fit N")
    names = [r["name"] for r in (ledger or {}).get("releases", []) if "dp-sgd" in r["name"]]
    detail = f"DP-SGD ({privacy.get('accountant', 'unknown')} accountant)"
    if privacy.get("noise_seeded"):
        detail += f"; {_SEEDED}"
    return Protection.dp(
        privacy["epsilon"], privacy["delta"], release=", ".join(names) or "training", detail=detail
    )


def _quantization(conversion: Mapping[str, Any], weights: Protection) -> Protection:
    stored = conversion.get("calibration_privacy")
    if isinstance(stored, Mapping):
        return Protection.from_dict(stored)
    if conversion.get("mode") in _CALIBRATED and conversion.get("calibration_samples"):
        return Protection.none("calibrated on data whose protection was not recorded")
    detail = "derived from the weights only (no calibration data)"
    if weights.kind == "dp":
        return Protection.dp(0.0, 0.0, release=weights.release, detail=detail)
    return Protection(weights.kind, detail)


def build_scope(
    sections: Mapping[str, Mapping[str, Any] | None],
    metrics: Mapping[str, Any],
    *,
    drift_protection: Protection | None,
    protections: Mapping[str, Any] | None,
    ledger: Any,
) -> dict[str, Any] | None:
    """Return the privacy scope of a card with these sections (see the module docstring).

    ``None`` when the card lists none of the :data:`PARTS`.
    """
    given = dict(protections or {})
    unknown = sorted(set(given) - set(PARTS))
    if unknown:
        raise invalid_argument(
            "ModelCard.build", "protections", unknown[0], f"one of {list(PARTS)}"
        )
    parts: dict[str, Protection] = {}
    ledger_dict = _ledger(ledger)
    privacy, conversion = sections.get("privacy"), sections.get("conversion")
    if privacy is not None or conversion is not None:
        parts["weights"] = _weights(privacy, ledger_dict)
    if conversion is not None:
        parts["quantization"] = _quantization(conversion, parts["weights"])
    if sections.get("drift_baseline") is not None:
        parts["drift_baseline"] = drift_protection or Protection.none(
            "exact statistics (edges, minimum, maximum, counts) of the reference data"
        )
    undeclared = {
        "minimization_report": ("data", "exact counts of the raw records"),
        "evaluation": ("evaluation", "computed on data not declared held-out or public"),
        "audit": ("audit", "attack scores on training members"),
    }
    for part, (section, why) in undeclared.items():
        if sections.get(section) is not None:
            parts[part] = Protection.none(why)
    if metrics:
        parts["metrics"] = Protection.none("computed on data not declared held-out or public")
    for part, value in given.items():
        if part in parts:
            parts[part] = _protection(value, part)
    ordered = {name: parts[name] for name in PARTS if name in parts}
    if not ordered:
        return None  # the card releases no statistic: nothing to scope
    return {
        "covered": all(p.covered for p in ordered.values()),
        "headline": _headline(ordered, ledger_dict),
        "ledger": ledger_dict,
        "parts": {name: p.to_dict() for name, p in ordered.items()},
    }


def _ledger(ledger: Any) -> dict[str, Any] | None:
    if ledger is None or isinstance(ledger, Mapping):  # a stored scope's ledger is kept
        return None if ledger is None else dict(ledger)
    spent = ledger.spent()
    return {
        "epsilon": spent.epsilon,
        "delta": spent.delta,
        "accountant": spent.accountant,
        "releases": [
            {"name": e.name, "epsilon": e.epsilon, "delta": e.delta} for e in ledger.entries
        ],
    }


def _label(part: str) -> str:
    return part.replace("_", " ")


def _headline(parts: Mapping[str, Protection], ledger: Mapping[str, Any] | None) -> str:
    weights = parts.get("weights")
    uncovered = [_label(name) for name, p in parts.items() if not p.covered]
    if weights is None or weights.kind != "dp":
        subject = "No differential-privacy guarantee covers the weights."
    elif ledger is not None and not uncovered:
        subject = (
            f"Everything this card lists is covered: the DP releases together are "
            f"({ledger['epsilon']:.4g}, {ledger['delta']:.4g})-differentially private "
            f"({len(ledger['releases'])} releases in one ledger); the other parts come "
            "from data declared public or held out."
        )
    else:
        subject = (
            f"The weights are ({weights.epsilon:.4g}, {weights.delta:.4g})-differentially private."
        )
    seeded = [_label(name) for name, p in parts.items() if _SEEDED in p.detail]
    if seeded:
        subject += f" For {', '.join(seeded)}, {_SEEDED}."
    if not uncovered:
        return subject
    return (
        f"{subject} Not protected by any guarantee: {', '.join(uncovered)} (exact "
        "statistics of data that was neither declared public nor held out)."
    )


def check_scope(scope: object) -> dict[str, Any] | None:
    """Validate a stored scope's shape (for cards read back from JSON)."""
    if scope is None:
        return None
    if not isinstance(scope, Mapping) or not isinstance(scope.get("parts"), Mapping):
        raise invalid_argument(
            "ModelCard", "privacy_scope", scope, "a mapping with 'parts' (or None)"
        )
    for part, entry in scope["parts"].items():
        if part not in PARTS or not isinstance(entry, Mapping):
            raise invalid_argument("ModelCard", "privacy_scope", part, f"one of {list(PARTS)}")
        if entry.get("protection") not in KINDS:
            raise invalid_argument(
                "ModelCard", f"privacy_scope[{part!r}]", entry, f"a protection in {list(KINDS)}"
            )
    return dict(scope)
