"""Fixtures for on-device training: small data sets and a helper to convert models."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="session")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """96 points in 4 dimensions, 3 classes, seeded."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, size=96)
    x = rng.normal(size=(96, 4)).astype(np.float32) + np.eye(4, dtype=np.float32)[y] * 2.0
    return x, y.astype(np.int64)


@pytest.fixture(scope="session")
def images() -> tuple[np.ndarray, np.ndarray]:
    """48 random 8x8x1 images with 3 classes, seeded."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(48, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, size=48)
    return x, y.astype(np.int64)
