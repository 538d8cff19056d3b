"""edgeml.privacy and its accounting load no TensorFlow; lazy names resolve on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.compat

HEAVY = ("tensorflow", "keras", "tf_keras", "tensorflow_model_optimization")


def _heavy_modules_after(statement: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    return [m for m in loaded if m.split(".")[0] in heavy]


def test_privacy_package_and_accounting_load_no_tensorflow() -> None:
    statement = (
        "import edgeml.privacy, edgeml.privacy.accounting\n"
        "dir(edgeml.privacy)\n"
        "edgeml.privacy.Ledger().record(name='x', noise_multiplier=1.0, sampling_rate=0.1,"
        " steps=2).spent()"
    )
    assert _heavy_modules_after(statement) == []


def test_dp_accounting_loads_only_when_something_is_computed() -> None:
    # dp-accounting pulls in scipy.signal/optimize/stats (about 0.6 s of imports).
    for module in ("edgeml.privacy.accounting", "edgeml.privacy.mechanisms"):
        assert _heavy_modules_after(f"import {module}", ("dp_accounting",)) == []
    computed = (
        "import edgeml.privacy as p\n"
        "p.epsilon(noise_multiplier=1.0, sampling_rate=0.1, steps=2, delta=1e-5)"
    )
    assert "dp_accounting" in _heavy_modules_after(computed, ("dp_accounting",))


def test_public_names_are_listed_and_resolve() -> None:
    import edgeml.privacy as privacy

    assert privacy.__all__ == sorted(privacy.__all__)
    for name in privacy.__all__:
        if name in {
            "make_private",
            "poisson_batches",
            "validate_model",
            "PrivacyState",
        }:
            continue  # DP-SGD names load TensorFlow; tested in test_dpsgd.py
        assert getattr(privacy, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        privacy.nope  # noqa: B018
