"""Thread safety, and the device path: load + predict with TensorFlow unimportable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from edgeml.runtime import load

pytest.importorskip("ai_edge_litert.interpreter")
pytestmark = pytest.mark.tf


def _hammer(
    predict_for_thread: list, inputs: list[np.ndarray], expected: list[np.ndarray]
) -> list[str]:
    """Each thread predicts its own inputs many times; return any wrong results."""
    errors: list[str] = []
    barrier = threading.Barrier(len(inputs))

    def work(k: int) -> None:
        predict = predict_for_thread[k]
        barrier.wait()
        for i in range(300):
            got = predict(inputs[k][i % 3 : i % 3 + 1 + i % 5])
            want = expected[k][i % 3 : i % 3 + 1 + i % 5]
            if not np.array_equal(got, want):
                errors.append(f"thread {k} call {i}")
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.parametrize("name", ["mlp_int8", "cnn_float"])
def test_one_model_shared_by_threads_gives_each_its_own_results(
    models: dict[str, bytes], name: str
) -> None:
    model = load(models[name], num_threads=1)
    shape = model.inputs[0].shape[1:]
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(8, *shape)).astype(np.float32) for _ in range(6)]
    expected = [model.predict(x) for x in inputs]
    # Varying batch sizes force resizes between threads: without the lock, tensors are
    # resized under another thread's feet and results get mixed up.
    assert _hammer([model.predict] * len(inputs), inputs, expected) == []


def test_one_clone_per_thread(models: dict[str, bytes]) -> None:
    model = load(models["cnn_int8"], num_threads=1)
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(8, 8, 8, 1)).astype(np.float32) for _ in range(4)]
    expected = [model.predict(x) for x in inputs]
    clones = [model.clone().predict for _ in inputs]
    assert _hammer(clones, inputs, expected) == []
    assert model.clone(num_threads=2).num_threads == 2


BLOCKER = textwrap.dedent(
    """
    import sys

    class BlockHeavy:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
                raise ModuleNotFoundError(f"blocked for this test: {name}", name=name)
            return None

    sys.meta_path.insert(0, BlockHeavy())
    """
)


def test_load_and_predict_work_with_tensorflow_blocked(
    model_files: dict[str, Path], tmp_path: Path
) -> None:
    x = np.random.default_rng(2).normal(size=(5, 8)).astype(np.float32)
    expected = load(model_files["mlp_int8"]).predict(x)
    np.save(tmp_path / "x.npy", x)
    code = BLOCKER + textwrap.dedent(
        f"""
        import json
        import numpy as np
        import edgeml.runtime
        model = edgeml.runtime.load({str(model_files["mlp_int8"])!r})
        out = model.predict(np.load({str(tmp_path / "x.npy")!r}))
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in
                       ("tensorflow", "keras", "tf_keras"))
        print(json.dumps({{"out": out.tolist(), "heavy": heavy,
                          "backend": model.backend, "integrity": model.integrity.status}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["backend"] == "litert"
    np.testing.assert_array_equal(np.array(report["out"], dtype=np.float32), expected)


def test_tflite_backend_with_tensorflow_blocked_names_the_extra(
    model_files: dict[str, Path],
) -> None:
    code = BLOCKER + textwrap.dedent(
        f"""
        import edgeml.runtime
        from edgeml.errors import MissingDependencyError
        try:
            edgeml.runtime.load({str(model_files["mlp_int8"])!r}, backend="tflite")
        except MissingDependencyError as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert 'pip install "edgeml[tf]"' in result.stdout, result.stderr


def test_auto_backend_falls_back_to_tflite_when_litert_is_missing(
    model_files: dict[str, Path], models: dict[str, bytes], tmp_path: Path
) -> None:
    from edgeml.conversion.metadata import with_edgeml_entry

    sealed = tmp_path / "sealed.tflite"
    sealed.write_bytes(with_edgeml_entry(models["mlp_int8"]))
    x = np.random.default_rng(3).normal(size=(4, 8)).astype(np.float32)
    expected = load(sealed).predict(x)
    np.save(tmp_path / "x.npy", x)
    blocker = BLOCKER.replace('("tensorflow", "keras", "tf_keras")', '("ai_edge_litert",)')
    code = blocker + textwrap.dedent(
        f"""
        import json
        import numpy as np
        import edgeml.runtime
        model = edgeml.runtime.load({str(sealed)!r})
        out = model.predict(np.load({str(tmp_path / "x.npy")!r}))
        print(json.dumps({{"out": out.tolist(), "backend": model.backend,
                          "integrity": model.integrity.status}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "tflite"
    assert report["integrity"] == "verified"
    np.testing.assert_array_equal(np.array(report["out"], dtype=np.float32), expected)
