"""Shared test configuration: hypothesis profiles and quiet TensorFlow logs."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# TensorFlow's C++ start-up chatter hides real failures in CI logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Property tests: no deadline (CI machines are shared), a bounded number of examples.
settings.register_profile(
    "ci", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
