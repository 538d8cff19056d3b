"""What a user meets first: missing extras, and types an IDE can use.

Without TensorFlow (a ``[litert]``-only install), every public entry point that needs it
must raise edgeml's ``MissingDependencyError`` with the pip command, not a bare
``ModuleNotFoundError`` from a private module. The test blocks TensorFlow, Keras,
tf-keras and tfmot with an import hook in a fresh interpreter, so nothing is mocked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest

_BLOCKED_RUN = textwrap.dedent(
    """
    import importlib.abc, json, sys

    BLOCKED = {"tensorflow", "keras", "tf_keras", "tensorflow_model_optimization"}

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
    import numpy as np
    import edgeml
    import edgeml.conversion as conversion
    import edgeml.privacy as privacy

    calls = {
        "make_private": lambda: privacy.make_private(
            object(), l2_norm_clip=1.0, delta=1e-5, num_examples=10, batch_size=2,
            noise_multiplier=1.0),
        "validate_model": lambda: privacy.validate_model(object()),
        "poisson_batches": lambda: privacy.poisson_batches(np.zeros((4, 1)), sampling_rate=0.5),
        "PrivacyState": lambda: privacy.PrivacyState,
        "edgeml.convert": lambda: edgeml.convert(object()),
        "convert(saved model dir)": lambda: conversion.convert(sys.argv[1]),
        "quantize_aware": lambda: conversion.quantize_aware(object()),
        "prune": lambda: conversion.prune(object(), target_sparsity=0.5),
        "cluster": lambda: conversion.cluster(object(), n_clusters=4),
        "strip": lambda: conversion.strip(object()),
        "check_optimizable": lambda: conversion.check_optimizable(object()),
        "pruning_callbacks": lambda: conversion.pruning_callbacks(),
    }
    out = {}
    for name, call in calls.items():
        try:
            call()
            out[name] = "no error"
        except BaseException as exc:
            out[name] = [type(exc).__name__, isinstance(exc, ImportError), str(exc)]
    out["light"] = [edgeml.privacy.epsilon(noise_multiplier=1.0, sampling_rate=0.01, steps=10,
                                           delta=1e-5) > 0]
    out["loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print(json.dumps(out))
    """
)


def test_every_tensorflow_entry_point_says_which_extra_to_install(tmp_path: Path) -> None:
    saved = tmp_path / "saved_model"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    run = subprocess.run(
        [sys.executable, "-c", _BLOCKED_RUN, str(saved)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert results.pop("loaded") == []
    assert results.pop("light") == [True]  # the accounting still works without TensorFlow
    for name, result in results.items():
        assert result != "no error", name
        kind, is_import_error, message = result
        assert kind == "MissingDependencyError", (name, result)
        assert is_import_error, name
        assert 'pip install "edgeml[tf]"' in message, (name, message)


def test_make_private_and_convert_carry_types_an_ide_can_use() -> None:
    from edgeml.conversion.converter import convert
    from edgeml.privacy import PrivateModel
    from edgeml.privacy.dpsgd import make_private
    from edgeml.typing import ConvertibleModel, KerasModel

    hints = typing.get_type_hints(make_private)
    assert hints["model"] is KerasModel
    assert hints["return"] is PrivateModel
    assert typing.get_type_hints(convert)["model"] == ConvertibleModel

    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert isinstance(model, KerasModel)
    assert not isinstance(model, PrivateModel)
    private = make_private(
        model, noise_multiplier=1.0, l2_norm_clip=1.0, delta=1e-3, num_examples=20, batch_size=5
    )
    assert isinstance(private, PrivateModel)


@pytest.mark.slow
def test_a_type_checker_knows_what_make_private_returns(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "user_code.py"
    snippet.write_text(
        "from typing import Any\n"
        "from edgeml.privacy import make_private\n"
        "def train(keras_model: Any) -> None:\n"
        "    model = make_private(keras_model, l2_norm_clip=1.0, delta=1e-5,\n"
        "                         num_examples=100, batch_size=10, noise_multiplier=1.0)\n"
        "    reveal_type(model.privacy.spent().epsilon)\n"
        "    model.privacy.no_such_thing\n"
    )
    root = Path(__file__).resolve().parents[2]
    stdout, _, _ = api.run(
        [
            str(snippet),
            "--config-file",
            str(root / "pyproject.toml"),
            "--no-incremental",
            "--follow-imports=silent",
        ]
    )
    assert re.search(r'Revealed type is "(builtins\.)?float"', stdout), stdout
    assert '"PrivacyState" has no attribute "no_such_thing"' in stdout
