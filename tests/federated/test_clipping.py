"""DP-FedAvg arithmetic against closed forms (McMahan et al. 2018; Andrew et al. 2021)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edgeml.federated import _clipping

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@given(
    arrays(np.float64, st.integers(1, 20), elements=finite),
    arrays(np.float64, (3, 2), elements=finite),
    st.floats(1e-3, 1e3),
)
def test_clip_bounds_the_norm_and_keeps_the_direction(a, b, clip):
    clipped, was_clipped = _clipping.clip_update([a, b], clip)
    flat = np.concatenate([a.ravel(), b.ravel()])
    norm = float(np.linalg.norm(flat))  # reference: numpy on the concatenated vector
    assert _clipping.update_norm([a, b]) == pytest.approx(norm, rel=1e-12, abs=1e-12)
    out = np.concatenate([c.ravel() for c in clipped])
    assert np.linalg.norm(out) <= clip * (1 + 1e-9) + 1e-12
    assert was_clipped == (norm > clip)
    expected = flat * min(1.0, clip / norm) if norm > 0 else flat
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)


def test_noise_std_is_z_c_over_expected_clients():
    assert _clipping.noise_std(noise_multiplier=1.1, clip_norm=0.5, expected_clients=20) == (
        pytest.approx(1.1 * 0.5 / 20)
    )


@pytest.mark.parametrize(
    ("clipped_fraction", "gamma", "eta"), [(0.0, 0.5, 0.2), (1.0, 0.5, 0.2), (0.3, 0.9, 0.5)]
)
def test_adaptive_update_is_andrew_equation_3(clipped_fraction, gamma, eta):
    # Andrew et al. 2021, eq. (3): C <- C * exp(-eta * (b - gamma)), b = unclipped fraction.
    b = 1.0 - clipped_fraction
    got = _clipping.adaptive_clip_update(
        2.0, clipped_fraction, target_quantile=gamma, learning_rate=eta
    )
    assert got == pytest.approx(2.0 * math.exp(-eta * (b - gamma)))


@given(st.floats(0.1, 20.0), st.floats(0.1, 50.0))
def test_effective_noise_multiplier_inverts(z, count_stddev):
    effective = _clipping.effective_noise_multiplier(z, count_stddev)
    # Closed form of the stacked Gaussian: sensitivities C and 1/2 at noises zC and sigma_b.
    assert effective == pytest.approx(1.0 / math.sqrt(z**-2 + (2 * count_stddev) ** -2))
    assert effective < z
    assert _clipping.update_noise_multiplier(effective, count_stddev) == pytest.approx(z)


def test_update_noise_is_infinite_when_the_count_spends_everything():
    assert math.isinf(_clipping.update_noise_multiplier(3.0, 1.0))
