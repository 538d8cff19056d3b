"""Membership-inference audit: how well can an attacker tell training examples apart.

:func:`audit` runs two standard attacks against a trained model (or against per-example
losses you computed yourself) and reports, for each, the ROC AUC, the attacker's
advantage (``max TPR - FPR``, Yeom et al. 2018) and the true-positive rate at 1 % and
0.1 % false-positive rate (Carlini et al. 2022: what matters is confidently identifying a
few members, not average-case accuracy):

- ``loss_threshold``: "members have lower loss" (Yeom et al. 2018); the score is the
  negative loss, and every threshold is tried.
- ``logistic_regression``: a logistic regression on per-example features (loss, and
  with a model also confidence, entropy and margin), scored out-of-fold with k-fold
  cross-validation so that the attack is not evaluated on what it was fitted on.

An AUC near 0.5 and an advantage near 0 mean the attacks learn little; differential
privacy bounds the advantage by ``(e^epsilon - 1 + 2 delta) / (e^epsilon + 1)``.
numpy and scipy only; a Keras model is only asked for ``predict``.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> member_losses = rng.exponential(0.5, 500)       # lower loss on training data
>>> non_member_losses = rng.exponential(1.0, 500)
>>> result = audit(None, member_losses, non_member_losses, seed=0)
>>> result
AuditResult(auc=0.6..., advantage=0.2..., members=500, non_members=500)
>>> 0.6 < result.attack("loss_threshold").auc < 0.72
True
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special, stats

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml.errors import ConfigError, DataError, invalid_argument

__all__ = ["AttackResult", "AuditResult", "audit", "dp_advantage_bound", "roc_metrics"]

_ATTACKS = ("loss_threshold", "logistic_regression")
Float = NDArray[np.float64]


@dataclass(frozen=True)
class AttackResult:
    """How well one attack separates members from non-members.

    Attributes
    ----------
    name : str
        ``"loss_threshold"`` or ``"logistic_regression"``.
    auc : float
        Area under the ROC curve (0.5 = guessing).
    advantage : float
        ``max over thresholds of TPR - FPR`` (0 = guessing, 1 = perfect).
    tpr_at_1pct_fpr, tpr_at_01pct_fpr : float
        The largest true-positive rate among thresholds whose false-positive rate is at
        most 1 % and 0.1 %. With fewer than 1000 non-members the 0.1 % figure is the
        TPR at zero false positives.
    """

    name: str
    auc: float
    advantage: float
    tpr_at_1pct_fpr: float
    tpr_at_01pct_fpr: float

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-safe data."""
        data: dict[str, Any] = to_jsonable(dataclasses.asdict(self))
        return data


@dataclass(frozen=True)
class AuditResult:
    """The outcome of :func:`audit`: one :class:`AttackResult` per attack.

    ``auc`` and ``advantage`` are those of the strongest attack.
    """

    attacks: tuple[AttackResult, ...]
    members: int
    non_members: int

    @property
    def auc(self) -> float:
        """The highest AUC over the attacks."""
        return max(a.auc for a in self.attacks)

    @property
    def advantage(self) -> float:
        """The highest advantage over the attacks."""
        return max(a.advantage for a in self.attacks)

    def attack(self, name: str) -> AttackResult:
        """Return the result of the attack called ``name``."""
        for result in self.attacks:
            if result.name == name:
                return result
        raise KeyError(f"No attack {name!r}; ran {[a.name for a in self.attacks]}.")

    def __repr__(self) -> str:
        return (
            f"AuditResult(auc={self.auc:.3f}, advantage={self.advantage:.3f}, "
            f"members={self.members}, non_members={self.non_members})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-safe data."""
        return {
            "auc": self.auc,
            "advantage": self.advantage,
            "members": self.members,
            "non_members": self.non_members,
            "attacks": [a.to_dict() for a in self.attacks],
        }

    def _rows(self) -> list[list[Any]]:
        return [
            [a.name, a.auc, a.advantage, a.tpr_at_1pct_fpr, a.tpr_at_01pct_fpr]
            for a in self.attacks
        ]

    _HEADERS = ("attack", "AUC", "advantage", "TPR @ 1% FPR", "TPR @ 0.1% FPR")

    def to_markdown(self) -> str:
        """Return the attacks as a Markdown table."""
        return markdown_table(list(self._HEADERS), self._rows())

    def _repr_html_(self) -> str:
        caption = f"Membership inference: {self.members} members, {self.non_members} non-members"
        return html_table(list(self._HEADERS), self._rows(), caption=caption)


def dp_advantage_bound(epsilon: float, delta: float = 0.0) -> float:
    """Return the largest membership advantage an (epsilon, delta)-DP training allows.

    ``(e^epsilon - 1 + 2 delta) / (e^epsilon + 1)`` (Humphries et al. 2020; Kairouz et
    al. 2015 for the underlying hypothesis-testing bound), capped at 1.

    Examples
    --------
    >>> round(dp_advantage_bound(1.0), 4)
    0.4621
    """
    if epsilon < 0 or not 0 <= delta < 1:
        raise ConfigError("dp_advantage_bound needs epsilon >= 0 and 0 <= delta < 1.")
    if math.isinf(epsilon):
        return 1.0
    return float(min(1.0, (math.expm1(epsilon) + 2 * delta) / (math.exp(epsilon) + 1)))


def roc_metrics(
    scores: Any, is_member: Any, *, fpr_levels: Sequence[float] = (0.01, 0.001)
) -> tuple[float, float, list[float]]:
    """AUC, advantage and TPR at given FPR levels for scores where higher = member.

    The AUC is the Mann-Whitney U statistic divided by ``n_members * n_non_members``
    (ties count one half), which equals the area under the empirical ROC curve.

    Parameters
    ----------
    scores : array-like of float
        Attack scores.
    is_member : array-like of bool
        Ground truth.
    fpr_levels : sequence of float
        FPR levels at which to report the TPR.

    Returns
    -------
    tuple
        ``(auc, advantage, [tpr at each level])``.

    Examples
    --------
    >>> roc_metrics([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], fpr_levels=[0.0, 0.5])
    (0.75, 0.5, [0.5, 1.0])
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(is_member).astype(bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        raise DataError("roc_metrics needs at least one member and one non-member.")
    ranks = stats.rankdata(s)
    auc = (ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    order = np.argsort(-s, kind="mergesort")
    sorted_scores, sorted_y = s[order], y[order]
    # ROC points only where the score changes (ties move together).
    last_of_run = np.r_[np.diff(sorted_scores) != 0, True]
    tpr = np.r_[0.0, np.cumsum(sorted_y)[last_of_run] / positives]
    fpr = np.r_[0.0, np.cumsum(~sorted_y)[last_of_run] / negatives]
    advantage = float(np.max(tpr - fpr))
    levels = [float(np.max(tpr[fpr <= level + 1e-12])) for level in fpr_levels]
    return float(auc), advantage, levels


def _probabilities(outputs: Any) -> Float:
    out = np.asarray(outputs, dtype=float)
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        p = out.reshape(-1)
        if p.min() < 0 or p.max() > 1:
            p = special.expit(p)
        return np.stack([1 - p, p], axis=1)
    if out.ndim != 2:
        raise DataError(f"audit expects model outputs of shape (n, classes); got {out.shape}.")
    if out.min() < 0 or not np.allclose(out.sum(axis=1), 1.0, atol=1e-3):
        out = special.softmax(out, axis=1)
    return out


def _predict(model: Any, x: Any) -> Float:
    if hasattr(model, "predict_proba"):
        return _probabilities(model.predict_proba(x))
    predict = model.predict
    try:
        takes_verbose = "verbose" in inspect.signature(predict).parameters
    except (TypeError, ValueError):
        takes_verbose = False
    return _probabilities(predict(x, verbose=0) if takes_verbose else predict(x))


def _features_from_model(model: Any, x: Any, y: Any) -> tuple[Float, Float]:
    probs = _predict(model, x)
    labels = np.asarray(y).reshape(-1).astype(int)
    if labels.shape[0] != probs.shape[0]:
        raise DataError(f"audit got {probs.shape[0]} predictions but {labels.shape[0]} labels.")
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise DataError("audit: labels must be class indices in [0, number of classes).")
    p_true = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    loss = -np.log(p_true)
    others = probs.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    margin = np.log(p_true) - np.log(np.clip(others.max(axis=1), 1e-12, 1.0))
    entropy = -np.sum(probs * np.log(np.clip(probs, 1e-12, 1.0)), axis=1)
    confidence = probs.max(axis=1)
    return loss, np.stack([loss, margin, entropy, confidence], axis=1)


def _split_pair(name: str, data: Any) -> tuple[Any, Any]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise invalid_argument(
            "audit",
            name,
            type(data).__name__,
            "an (x, y) pair when auditing a model",
            fix=f"pass {name}=(x, y)",
        )
    return data[0], data[1]


def _logistic_oof_scores(
    features: Float, labels: NDArray[np.bool_], folds: int, seed: int
) -> Float:
    """Out-of-fold scores of an L2-regularised, class-balanced logistic regression."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    fold_of = np.empty(n, dtype=int)
    for cls in (True, False):  # stratified folds
        idx = np.flatnonzero(labels == cls)
        fold_of[rng.permutation(idx)] = np.arange(len(idx)) % folds
    scores = np.empty(n)
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        mean = features[train].mean(axis=0)
        std = features[train].std(axis=0) + 1e-12
        xt = np.c_[(features[train] - mean) / std, np.ones(train.sum())]
        yt = labels[train].astype(float)
        weights = np.where(yt == 1, 0.5 / yt.mean(), 0.5 / (1 - yt.mean()))

        def objective(w: Float, xt: Float = xt, yt: Float = yt, weights: Float = weights) -> Any:
            z = xt @ w
            loss = np.sum(weights * (np.logaddexp(0, z) - yt * z)) + 0.5 * np.sum(w[:-1] ** 2)
            grad = xt.T @ (weights * (special.expit(z) - yt))
            grad[:-1] += w[:-1]
            return loss, grad

        fit = optimize.minimize(objective, np.zeros(xt.shape[1]), jac=True, method="L-BFGS-B")
        xs = np.c_[(features[test] - mean) / std, np.ones(test.sum())]
        scores[test] = xs @ fit.x
    return scores


def audit(
    model: Any,
    members: Any,
    non_members: Any,
    *,
    attacks: Sequence[str] = _ATTACKS,
    folds: int = 5,
    seed: int = 0,
) -> AuditResult:
    """Run membership-inference attacks and report how well they do.

    Parameters
    ----------
    model : model, callable or None
        - a model with ``predict`` (Keras) or ``predict_proba`` (scikit-learn):
          ``members`` and ``non_members`` are ``(x, y)`` pairs with integer labels;
        - a callable ``loss(x, y) -> per-example losses``: same pairs;
        - ``None``: ``members`` and ``non_members`` are per-example losses already.
    members, non_members : pair or array-like
        Training examples and examples the model never saw (same distribution).
    attacks : sequence of str
        Any of ``"loss_threshold"`` and ``"logistic_regression"``.
    folds : int, default 5
        Cross-validation folds for the logistic-regression attack.
    seed : int, default 0
        Seed for the fold assignment.

    Returns
    -------
    AuditResult

    Raises
    ------
    DataError
        On empty, mismatched or non-finite inputs.
    ConfigError
        On an unknown attack or bad ``folds``.

    Examples
    --------
    >>> result = audit(None, [0.01, 0.02, 0.05, 0.1, 0.2], [0.3, 0.5, 0.9, 1.2, 2.0])
    >>> result.attack("loss_threshold")
    AttackResult(name='loss_threshold', auc=1.0, advantage=1.0, tpr_at_1pct_fpr=1.0, tpr_at_01pct_fpr=1.0)
    """  # noqa: E501
    unknown = [a for a in attacks if a not in _ATTACKS]
    if unknown or not attacks:
        raise invalid_argument(
            "audit", "attacks", list(attacks), f"a non-empty subset of {_ATTACKS}"
        )
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise invalid_argument("audit", "folds", folds, "an integer >= 2")
    if model is None:
        member_loss = np.asarray(members, dtype=float).reshape(-1)
        non_member_loss = np.asarray(non_members, dtype=float).reshape(-1)
        member_features = member_loss[:, None]
        non_member_features = non_member_loss[:, None]
    elif hasattr(model, "predict") or hasattr(model, "predict_proba"):
        member_loss, member_features = _features_from_model(model, *_split_pair("members", members))
        non_member_loss, non_member_features = _features_from_model(
            model, *_split_pair("non_members", non_members)
        )
    elif callable(model):
        loss_fn: Callable[[Any, Any], Any] = model
        member_loss = np.asarray(loss_fn(*_split_pair("members", members)), float).reshape(-1)
        non_member_loss = np.asarray(
            loss_fn(*_split_pair("non_members", non_members)), float
        ).reshape(-1)
        member_features, non_member_features = member_loss[:, None], non_member_loss[:, None]
    else:
        raise invalid_argument(
            "audit",
            "model",
            type(model).__name__,
            "a model with predict/predict_proba, a loss callable, or None (losses given)",
        )
    if len(member_loss) < folds or len(non_member_loss) < folds:
        raise DataError(
            f"audit needs at least {folds} members and non-members; got {len(member_loss)} "
            f"and {len(non_member_loss)}. Use a few hundred of each for stable numbers."
        )
    if not (np.all(np.isfinite(member_loss)) and np.all(np.isfinite(non_member_loss))):
        raise DataError("audit: the per-example losses contain NaN or infinity.")
    is_member = np.r_[np.ones(len(member_loss), bool), np.zeros(len(non_member_loss), bool)]
    results = []
    if "loss_threshold" in attacks:
        auc, adv, (tpr1, tpr01) = roc_metrics(-np.r_[member_loss, non_member_loss], is_member)
        results.append(AttackResult("loss_threshold", auc, adv, tpr1, tpr01))
    if "logistic_regression" in attacks:
        features = np.r_[member_features, non_member_features]
        features = np.c_[features, np.log(np.abs(features[:, :1]) + 1e-12)]
        scores = _logistic_oof_scores(features, is_member, folds, seed)
        auc, adv, (tpr1, tpr01) = roc_metrics(scores, is_member)
        results.append(AttackResult("logistic_regression", auc, adv, tpr1, tpr01))
    return AuditResult(tuple(results), len(member_loss), len(non_member_loss))
