"""MST's parts against independent references.

- zCDP -> (epsilon, delta): against dp-accounting's RDP accountant (same bound on a grid
  of orders), the classic closed form of Bun and Steinke (2016, Prop. 1.3), the delta
  form of Canonne, Kamath and Steinke (2020, Prop. 12) written out here, and the exact
  (eps, delta) curve of the Gaussian mechanism (Balle and Wang 2018, Thm. 8).
- noise scales: closed forms sigma = sqrt(k / (2 rho_part)), epsilon_s = sqrt(8 rho_part / k),
  the event's RDP curve from dp-accounting, and the empirical spread of the noise.
- estimation: consistency and non-negativity by direct checks, optimality against
  scipy's SLSQP on the same least-squares problem, recovery without noise.
- quality: naive Bayes against scikit-learn's CategoricalNB, DCR against scipy's cdist.
"""

from __future__ import annotations

import math

import dp_accounting
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, stats
from scipy.spatial.distance import cdist

from edgeml.data.synthesis import mst, mst_event, zcdp_epsilon, zcdp_rho
from edgeml.data.synthesis.estimation import Measurement, estimate, project_simplex
from edgeml.data.synthesis.quality import _closest, naive_bayes_accuracy, tvd
from edgeml.errors import ConfigError

FINE_ORDERS = np.concatenate([np.linspace(1.02, 20, 4000), np.geomspace(20, 20000, 4000)])


def cks_delta(rho: float, eps: float) -> float:
    """Canonne-Kamath-Steinke Prop. 12 in delta form, minimised over alpha by bisection
    on the derivative's root (written independently of the code under test)."""
    low, high = 1.0 + 1e-9, (eps + 1) / (2 * rho) + 2
    for _ in range(300):
        alpha = (low + high) / 2
        if (2 * alpha - 1) * rho - eps + math.log1p(-1 / alpha) < 0:
            low = alpha
        else:
            high = alpha
    return math.exp((alpha - 1) * (alpha * rho - eps) + alpha * math.log1p(-1 / alpha)) / (
        alpha - 1
    )


def gaussian_delta(sigma: float, eps: float) -> float:
    """Exact delta(eps) of the Gaussian mechanism with sensitivity 1 (Balle-Wang Thm. 8)."""
    a, b = 1 / (2 * sigma), eps * sigma
    return float(stats.norm.cdf(a - b) - math.exp(eps) * stats.norm.cdf(-a - b))


@pytest.mark.parametrize("rho", [0.001, 0.0244, 0.185, 1.0, 5.0])
@pytest.mark.parametrize("delta", [1e-9, 1e-6, 1e-3])
def test_zcdp_epsilon_against_references(rho: float, delta: float) -> None:
    ours = zcdp_epsilon(rho, delta)
    accountant = dp_accounting.rdp.RdpAccountant()
    accountant.compose(dp_accounting.ZCDpEvent(rho))
    assert ours <= accountant.get_epsilon(delta) + 1e-9  # same bound, default orders
    fine = dp_accounting.rdp.RdpAccountant(orders=FINE_ORDERS)
    fine.compose(dp_accounting.ZCDpEvent(rho))
    assert ours == pytest.approx(fine.get_epsilon(delta), rel=1e-4)  # on a fine grid
    assert ours < rho + 2 * math.sqrt(rho * math.log(1 / delta))  # classic, looser
    # the delta-form bound at our epsilon is delta (the two forms are one bound)
    assert cks_delta(rho, ours) == pytest.approx(delta, rel=1e-4)
    # a Gaussian mechanism with this rho is at least as private as the bound says
    assert gaussian_delta(1 / math.sqrt(2 * rho), ours) <= delta


@given(
    epsilon=st.floats(0.05, 20.0),
    delta=st.sampled_from([1e-10, 1e-8, 1e-6, 1e-4]),
)
def test_zcdp_rho_never_overshoots(epsilon: float, delta: float) -> None:
    rho = zcdp_rho(epsilon, delta)
    assert zcdp_epsilon(rho, delta) <= epsilon
    assert zcdp_epsilon(rho * (1 + 1e-6), delta) > epsilon * (1 - 1e-5)


def test_zcdp_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="'delta' argument of zcdp_rho"):
        zcdp_rho(1.0, 0.0)
    with pytest.raises(ConfigError, match="'rho' argument of zcdp_epsilon"):
        zcdp_epsilon(-1.0, 1e-6)
    assert zcdp_epsilon(0.0, 1e-6) == 0.0


@pytest.mark.parametrize("d", [2, 5, 10])
def test_noise_scales_closed_forms(d: int) -> None:
    rho = 0.2
    s = mst.noise_scales(rho, d)
    assert s.rho_one_way + s.rho_select + s.rho_two_way == pytest.approx(rho)
    # d 1-way marginals with sigma each: rho = d / (2 sigma^2)
    assert d / (2 * s.sigma_one_way**2) == pytest.approx(rho / 3)
    assert (d - 1) / (2 * s.sigma_two_way**2) == pytest.approx(rho / 3)
    # d - 1 bounded-range selections, each epsilon^2 / 8
    assert (d - 1) * s.epsilon_select**2 / 8 == pytest.approx(rho / 3)
    assert s.sigma_one_way == pytest.approx(math.sqrt(3 * d / (2 * rho)))


def test_event_spends_exactly_rho_in_dp_accounting() -> None:
    scales = mst.noise_scales(0.3, 6)
    ours = dp_accounting.rdp.RdpAccountant().compose(mst_event(scales))
    reference = dp_accounting.rdp.RdpAccountant().compose(dp_accounting.ZCDpEvent(0.3))
    for delta in (1e-8, 1e-5):
        assert ours.get_epsilon(delta) == pytest.approx(reference.get_epsilon(delta), rel=1e-9)


def test_measure_adds_noise_of_the_stated_scale() -> None:
    codes = np.zeros((1000, 1), dtype=np.int32)
    rng = np.random.default_rng(0)
    sigma = 7.0
    noise = np.concatenate(
        [mst.measure(codes, [400], [(0,)], sigma, rng)[0].y[1:] for _ in range(50)]
    )
    # 50 * 399 empty cells: pure noise; the sample std is within 2% of sigma
    assert noise.std() == pytest.approx(sigma, rel=0.02)
    assert abs(noise.mean()) < 0.1


def tree_distribution(rng: np.random.Generator) -> np.ndarray:
    """A random joint over 3 columns (3, 4, 2 categories) that factors as 0 - 1 - 2."""
    p0 = rng.dirichlet(np.ones(3))
    p1 = rng.dirichlet(np.ones(4), size=3)
    p2 = rng.dirichlet(np.ones(2), size=4)
    return np.einsum("a,ab,bc->abc", p0, p1, p2)


def exact_measurements(joint: np.ndarray, n: float, sigma: float = 1.0) -> list[Measurement]:
    counts = joint * n
    cliques = {(0,): (1, 2), (1,): (0, 2), (2,): (0, 1), (0, 1): (2,), (1, 2): (0,)}
    return [
        Measurement(c, counts.sum(axis=axes), np.full(counts.sum(axis=axes).shape, sigma))
        for c, axes in cliques.items()
    ]


def test_estimation_recovers_exact_tree_marginals() -> None:
    joint = tree_distribution(np.random.default_rng(1))
    model = estimate((3, 4, 2), [(0, 1), (1, 2)], exact_measurements(joint, 10000.0))
    assert model.total == pytest.approx(10000.0)
    assert np.abs(model.marginal((0, 1)) - joint.sum(2)).max() < 2e-3
    assert np.abs(model.marginal((1, 2)) - joint.sum(0)).max() < 2e-3


@given(seed=st.integers(0, 2**32 - 1))
def test_estimation_is_consistent_and_non_negative(seed: int) -> None:
    rng = np.random.default_rng(seed)
    joint = tree_distribution(rng)
    noisy = [
        Measurement(m.clique, m.y + rng.normal(0, 30.0, m.y.shape), np.full(m.y.shape, 30.0))
        for m in exact_measurements(joint, 200.0)
    ]
    assert min(float(m.y.min()) for m in noisy) < 0  # the noise made negative counts
    model = estimate((3, 4, 2), [(0, 1), (1, 2)], noisy, iterations=200)
    p01, p12 = model.marginal((0, 1)), model.marginal((1, 2))
    assert (p01 >= 0).all()
    assert (p12 >= 0).all()
    assert p01.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p01.sum(0), p12.sum(1), atol=1e-9)  # shared column 1
    np.testing.assert_allclose(p01.sum(1), model.marginal((0,)), atol=1e-9)
    np.testing.assert_allclose(p12.sum(0), model.marginal((2,)), atol=1e-9)


def test_estimation_reaches_the_least_squares_optimum() -> None:
    """Two columns joined by one edge: the model family is every joint distribution,
    so the optimum is a quadratic programme over the simplex, solved by SLSQP."""
    rng = np.random.default_rng(3)
    x = np.array([[40.0, 25.0, 5.0], [10.0, 30.0, 3.0]])
    ms = [
        Measurement((0,), x.sum(1) + rng.normal(0, 4, 2), np.full(2, 4.0)),
        Measurement((1,), x.sum(0) + rng.normal(0, 4, 3), np.full(3, 4.0)),
        Measurement((0, 1), x + rng.normal(0, 3, (2, 3)), np.full((2, 3), 3.0)),
    ]
    model = estimate((2, 3), [(0, 1)], ms, iterations=5000, tolerance=1e-14)
    n = model.total

    def loss(flat: np.ndarray) -> float:
        p = flat.reshape(2, 3)
        parts = [(p.sum(1), ms[0]), (p.sum(0), ms[1]), (p, ms[2])]
        return sum(0.5 * float((((n * q - m.y) / m.sigma) ** 2).sum()) for q, m in parts)

    reference = optimize.minimize(
        loss,
        np.full(6, 1 / 6),
        method="SLSQP",
        bounds=[(0, 1)] * 6,
        constraints=[{"type": "eq", "fun": lambda f: f.sum() - 1}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    ours = loss(model.marginal((0, 1)).reshape(-1))
    assert ours <= reference.fun * (1 + 1e-4) + 1e-6


def test_project_simplex_matches_slsqp() -> None:
    target, weights = np.array([0.5, 0.4, 0.3, -0.1]), np.array([1.0, 2.0, 0.5, 1.0])
    ours = project_simplex(target, weights)
    reference = optimize.minimize(
        lambda p: float(((p - target) ** 2 / weights).sum()),
        np.full(4, 0.25),
        method="SLSQP",
        bounds=[(0, 1)] * 4,
        constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1}],
        options={"ftol": 1e-14},
    )
    np.testing.assert_allclose(ours, reference.x, atol=1e-6)


def test_compress_merges_categories_below_three_sigma() -> None:
    m = Measurement((0,), np.array([100.0, 2.0, 50.0, -1.0, 5.0]), np.full(5, 2.0))
    (out,), (keep,) = mst.compress([m], [5])
    assert keep.tolist() == [True, False, True, False, False]  # threshold 3 * 2 = 6
    np.testing.assert_allclose(out.y, [100.0, 50.0, 6.0])
    np.testing.assert_allclose(out.sigma, [2.0, 2.0, 2.0 * math.sqrt(3)])
    codes = np.array([[0], [1], [2], [3], [4]], dtype=np.int32)
    small = mst.compress_codes(codes, [keep])
    assert small[:, 0].tolist() == [0, 2, 1, 2, 2]
    back = mst.expand_codes(small, [keep], np.random.default_rng(0))
    assert back[[0, 2], 0].tolist() == [0, 2]
    assert set(back[[1, 3, 4], 0].tolist()) <= {1, 3, 4}
    # with the noisy counts, a rare cell spreads like their projection onto the simplex
    many = np.full((4000, 1), 2, dtype=np.int32)
    spread = mst.expand_codes(many, [keep], np.random.default_rng(0), [m])[:, 0]
    expected = project_simplex(np.array([2.0, -1.0, 5.0]) / 8.0, np.ones(3))
    shares = [np.mean(spread == c) for c in (1, 3, 4)]
    np.testing.assert_allclose(shares, expected, atol=0.03)


def test_compress_keeps_a_column_whole_rather_than_erase_it() -> None:
    m = Measurement((0,), np.array([100.0, 2.0, 1.0]), np.full(3, 2.0))
    (out,), (keep,) = mst.compress([m], [3])
    assert keep.all()
    assert out is m


def test_selection_with_large_epsilon_is_the_maximum_spanning_tree() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 3000)
    b = (a + (rng.random(3000) < 0.1)) % 3  # strongly tied to a
    c = rng.integers(0, 3, 3000)
    d = np.where(rng.random(3000) < 0.8, c, rng.integers(0, 3, 3000))  # tied to c
    codes = np.stack([a, b, c, d], axis=1).astype(np.int32)
    sizes = [3, 3, 3, 3]
    ms = mst.measure(codes, sizes, [(i,) for i in range(4)], 1e-3, rng)
    independent = mst.fit_independent(ms, sizes)
    edges, scores = mst.select(codes, sizes, independent, 1e6, rng)
    assert edges[:2] == [(0, 1), (2, 3)]
    assert len(edges) == 3
    # the third edge joins the two components with the best remaining score
    bridge = max(((0, 2), (0, 3), (1, 2), (1, 3)), key=scores.__getitem__)
    assert edges[2] == bridge


def test_naive_bayes_matches_scikit_learn() -> None:
    naive_bayes = pytest.importorskip("sklearn.naive_bayes")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (500, 3))
    y = (x[:, 0] + rng.integers(0, 2, 500)) % 3
    tx, ty = rng.integers(0, 4, (300, 3)), rng.integers(0, 3, 300)
    model = naive_bayes.CategoricalNB(alpha=1.0, min_categories=[4, 4, 4]).fit(x, y)
    reference = float(np.mean(model.predict(tx) == ty))
    assert naive_bayes_accuracy(x, y, tx, ty, [4, 4, 4], 3) == pytest.approx(reference)


def test_distance_to_closest_record_matches_cdist() -> None:
    rng = np.random.default_rng(0)
    queries, reference = rng.integers(0, 3, (200, 5)), rng.integers(0, 3, (400, 5))
    expected = np.rint(cdist(queries, reference, metric="hamming").min(axis=1) * 5)
    np.testing.assert_array_equal(_closest(queries, reference), expected)


def test_tvd_closed_form() -> None:
    assert tvd(np.array([1.0, 1.0, 2.0]), np.array([0.0, 1.0, 1.0])) == pytest.approx(0.25)


def test_sampling_allocates_the_model_counts_within_rounding() -> None:
    joint = tree_distribution(np.random.default_rng(5))
    model = estimate((3, 4, 2), [(0, 1), (1, 2)], exact_measurements(joint, 10000.0))
    codes = model.sample(5000, np.random.default_rng(0))
    root = np.bincount(codes[:, 0], minlength=3)
    assert np.abs(root - 5000 * model.marginal((0,))).max() <= 1  # n * p, rounded
    for value in range(3):  # each parent group is split by the child's conditional
        group = codes[codes[:, 0] == value, 1]
        p = model.marginal((0, 1))[value] / model.marginal((0, 1))[value].sum()
        assert np.abs(np.bincount(group, minlength=4) - len(group) * p).max() <= 1
