"""Membership-inference audit: ROC metrics against references, attacks, and DP vs overfit.

References: the AUC is checked against scipy's Mann-Whitney U (U / (n1 n0)) and, where
installed, scikit-learn's roc_auc_score; advantage and TPR-at-FPR against a brute-force
loop over every threshold; the DP bound against (e^eps - 1) / (e^eps + 1) = tanh(eps / 2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from edgeml.errors import ConfigError, DataError
from edgeml.privacy.membership import AuditResult, audit, dp_advantage_bound, roc_metrics

pytestmark = pytest.mark.compat


def _brute_force(scores, labels, level):
    best_adv, best_tpr = 0.0, 0.0
    pos, neg = labels.sum(), (~labels).sum()
    for t in np.r_[np.inf, np.unique(scores)]:
        predicted = scores >= t
        tpr = (predicted & labels).sum() / pos
        fpr = (predicted & ~labels).sum() / neg
        best_adv = max(best_adv, tpr - fpr)
        if fpr <= level:
            best_tpr = max(best_tpr, tpr)
    return best_adv, best_tpr


def test_auc_advantage_and_tpr_match_references() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(400) < 0.4
    scores = np.round(rng.normal(size=400) + 0.7 * labels, 1)  # rounding creates ties
    auc, adv, (tpr1, tpr10) = roc_metrics(scores, labels, fpr_levels=[0.01, 0.10])
    u = stats.mannwhitneyu(scores[labels], scores[~labels]).statistic
    assert auc == pytest.approx(u / (labels.sum() * (~labels).sum()), abs=1e-12)
    metrics = pytest.importorskip("sklearn.metrics")
    assert auc == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-12)
    brute_adv, brute_tpr1 = _brute_force(scores, labels, 0.01)
    _, brute_tpr10 = _brute_force(scores, labels, 0.10)
    assert adv == pytest.approx(brute_adv)
    assert (tpr1, tpr10) == (pytest.approx(brute_tpr1), pytest.approx(brute_tpr10))


@settings(max_examples=40)
@given(
    scores=st.lists(st.integers(-5, 5), min_size=4, max_size=40),
    flips=st.lists(st.booleans(), min_size=4, max_size=40),
)
def test_roc_properties(scores, flips) -> None:
    n = min(len(scores), len(flips))
    s = np.array(scores[:n], float)
    y = np.array(flips[:n])
    if y.all() or not y.any():
        return
    auc, adv, (tpr,) = roc_metrics(s, y, fpr_levels=[0.05])
    assert 0.0 <= auc <= 1.0
    assert 0.0 <= adv <= 1.0
    assert 0.0 <= tpr <= 1.0
    flipped_auc, _, _ = roc_metrics(-s, y)
    assert auc + flipped_auc == pytest.approx(1.0)
    monotone_auc, monotone_adv, _ = roc_metrics(np.exp(s), y)  # rank-based: unchanged
    assert (monotone_auc, monotone_adv) == (pytest.approx(auc), pytest.approx(adv))
    assert (adv, tpr) == tuple(pytest.approx(v) for v in _brute_force(s, y, 0.05))


def test_separated_losses_are_perfectly_attackable() -> None:
    result = audit(None, np.linspace(0, 1, 50), np.linspace(2, 3, 60))
    for attack in result.attacks:
        assert attack.auc == 1.0
        assert attack.advantage == 1.0
        assert attack.tpr_at_1pct_fpr == 1.0
    assert result.members == 50
    assert result.non_members == 60


def test_identical_distributions_give_chance_level() -> None:
    rng = np.random.default_rng(1)
    result = audit(None, rng.exponential(size=2000), rng.exponential(size=2000), seed=1)
    # AUC standard error at n = 2000 + 2000 is about 0.009.
    assert abs(result.attack("loss_threshold").auc - 0.5) < 0.03
    assert abs(result.attack("logistic_regression").auc - 0.5) < 0.04
    assert result.attack("loss_threshold").tpr_at_1pct_fpr < 0.05


def test_logistic_attack_finds_a_signal_the_threshold_attack_misses() -> None:
    # Members have losses near 1, non-members near 0 or 2: no single threshold separates
    # them, but log(loss) and loss together do better.
    rng = np.random.default_rng(2)
    members = np.abs(rng.normal(1.0, 0.1, 500))
    non_members = np.abs(np.r_[rng.normal(0.05, 0.02, 250), rng.normal(2.0, 0.1, 250)])
    result = audit(None, members, non_members, seed=0)
    assert result.attack("loss_threshold").auc < 0.75
    assert result.attack("logistic_regression").auc > result.attack("loss_threshold").auc


class _ProbabilityModel:
    """A fixed classifier with predict_proba (as scikit-learn models have)."""

    def __init__(self, confident_on: set[int]) -> None:
        self.confident_on = confident_on

    def predict_proba(self, x):
        out = np.full((len(x), 3), 1 / 3)
        for row, value in enumerate(np.asarray(x).reshape(-1)):
            if int(value) in self.confident_on:
                out[row] = [0.98, 0.01, 0.01]
        return out


def test_audit_of_a_model_uses_its_predictions() -> None:
    model = _ProbabilityModel(confident_on=set(range(100)))
    members = (np.arange(100), np.zeros(100, int))
    non_members = (np.arange(100, 200), np.zeros(100, int))
    result = audit(model, members, non_members)
    assert result.attack("loss_threshold").auc == 1.0
    data = result.to_dict()
    assert data["auc"] == 1.0
    assert len(data["attacks"]) == 2
    assert "TPR @ 1% FPR" in result.to_markdown()
    assert isinstance(result, AuditResult)
    assert "AuditResult(auc=1.000" in repr(result)


def test_audit_with_a_loss_callable() -> None:
    def loss(x, y):
        return np.abs(np.asarray(x, float) - np.asarray(y, float))

    result = audit(loss, (np.zeros(20), np.zeros(20)), (np.ones(20), np.zeros(20)))
    assert result.auc == 1.0


def test_dp_advantage_bound_reference_values() -> None:
    assert dp_advantage_bound(1.0) == pytest.approx(math.tanh(0.5))
    assert dp_advantage_bound(0.0) == 0.0
    assert dp_advantage_bound(math.inf) == 1.0
    assert dp_advantage_bound(0.0, 0.25) == pytest.approx(0.25)


def test_bad_input_gets_edgeml_errors() -> None:
    with pytest.raises(DataError, match="at least 5 members"):
        audit(None, [0.1, 0.2], [0.3, 0.4, 0.5, 0.6, 0.7])
    with pytest.raises(DataError, match="NaN"):
        audit(None, [np.nan] * 6, [1.0] * 6)
    with pytest.raises(ConfigError, match="'attacks' argument"):
        audit(None, [0.1] * 6, [0.2] * 6, attacks=["shadow_models"])
    with pytest.raises(ConfigError, match="'members' argument"):
        audit(_ProbabilityModel(set()), np.zeros(10), (np.zeros(10), np.zeros(10)))
    with pytest.raises(DataError, match="one member and one non-member"):
        roc_metrics([1.0, 2.0], [True, True])
    with pytest.raises(KeyError, match="No attack"):
        audit(None, [0.1] * 6, [0.2] * 6).attack("shadow")


@pytest.mark.tf
def test_dp_training_leaks_clearly_less_than_an_overfit_model() -> None:
    keras = pytest.importorskip("keras")
    datasets = pytest.importorskip("sklearn.datasets")
    from edgeml.privacy import make_private

    x, y = datasets.load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    # Noisy pixels make the task hard enough that a non-private model memorises.
    x = (x / 16.0 + rng.normal(0.0, 0.5, x.shape)).astype("float32")
    order = rng.permutation(len(x))
    train, held_out = order[:300], order[300:600]

    def build():
        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(256, activation="relu"),
                keras.layers.Dense(10),
            ]
        )

    def loss(reduction):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)

    overfit = build()
    overfit.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss("sum_over_batch_size"))
    for step in range(300):
        batch = train[(step % 3) * 100 : (step % 3 + 1) * 100]
        overfit.train_on_batch(x[batch], y[batch])

    private = make_private(
        build(),
        target_epsilon=1.0,
        delta=1e-4,
        l2_norm_clip=1.0,
        batch_size=30,
        num_examples=300,
        epochs=20,
        seed=0,
    )
    private.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss("none"))
    private.fit(x[train], y[train], epochs=20, verbose=0)

    members, non_members = (x[train], y[train]), (x[held_out], y[held_out])
    plain_result = audit(overfit, members, non_members)
    dp_result = audit(private, members, non_members)
    # Measured here: overfit AUC 0.85, DP (epsilon 1) 0.51; the AUC's standard error with
    # 300 + 300 examples is about 0.025.
    assert plain_result.auc > 0.7
    assert dp_result.auc < 0.6
    assert plain_result.auc > dp_result.auc + 0.15
    assert dp_result.attack("loss_threshold").advantage <= dp_advantage_bound(1.0, 1e-4)
