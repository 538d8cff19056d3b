"""Models for the runtime tests, built once per session with TensorFlow's own converter.

edgeml.convert is deliberately not used: these tests must not depend on the conversion
layer. Each model is tiny so the whole session converts in a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

FEATURES = 8


def _representative(shapes: list[tuple[int, ...]]) -> Callable[[], Iterator[list[Any]]]:
    def generate() -> Iterator[list[Any]]:
        rng = np.random.default_rng(0)
        for _ in range(64):
            yield [rng.normal(size=(1, *s)).astype(np.float32) * 2 for s in shapes]

    return generate


def _convert(
    model: Any, io: str, shapes: list[tuple[int, ...]] | None = None, from_functions: Any = None
) -> bytes:
    import tensorflow as tf

    if from_functions is not None:
        converter = tf.lite.TFLiteConverter.from_concrete_functions(*from_functions)
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if io != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(shapes or [(FEATURES,)])
        if io == "int16":
            ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            converter.target_spec.supported_ops = [ops]
        else:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = {"int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16, "int8-float-io": None}
        if io_type[io] is not None:
            converter.inference_input_type = io_type[io]
            converter.inference_output_type = io_type[io]
    return bytes(converter.convert())


@pytest.fixture(scope="session")
def tf() -> Any:
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="session")
def models(tf: Any) -> dict[str, bytes]:
    """name -> .tflite bytes; see the body for what each one is."""
    tf.keras.utils.set_random_seed(0)
    mlp = tf.keras.Sequential(
        [
            tf.keras.Input((FEATURES,)),
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(3),
        ]
    )
    cnn = tf.keras.Sequential(
        [
            tf.keras.Input((8, 8, 1)),
            tf.keras.layers.Conv2D(4, 3, activation="relu"),
            tf.keras.layers.MaxPooling2D(),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(5),
        ]
    )
    zeta = tf.keras.Input((3,), name="zeta")
    alpha = tf.keras.Input((2,), name="alpha")
    joined = tf.keras.layers.Concatenate()([zeta, alpha])
    multi = tf.keras.Model(
        [zeta, alpha],
        {
            "scores": tf.keras.layers.Dense(4, name="scores")(joined),
            "value": tf.keras.layers.Dense(1, name="value")(joined),
        },
    )

    class TwoSignatures(tf.Module):  # type: ignore[misc]
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def add(self, x: Any) -> Any:
            return {"y": x + 1.0}

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 2], tf.float32, name="x"),
                tf.TensorSpec([None, 2], tf.float32, name="w"),
            ]
        )
        def mul(self, x: Any, w: Any) -> Any:
            return {"product": x * w, "difference": x - w}

    class FixedBatch(tf.Module):  # type: ignore[misc]
        def __init__(self, batch: int) -> None:
            super().__init__()
            self.kernel = tf.constant(
                np.arange(FEATURES * 2, dtype=np.float32).reshape(FEATURES, 2)
            )
            self.batch = batch

        @tf.function
        def __call__(self, x: Any) -> Any:
            return tf.nn.relu(tf.matmul(x, self.kernel) - 10.0)

    class RowSums(tf.Module):  # type: ignore[misc]
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="rows")])
        def __call__(self, rows: Any) -> Any:
            return {"sums": tf.reduce_sum(rows, axis=1)}

    row_sums = RowSums()
    two = TwoSignatures()
    fixed = {}
    for batch in (1, 2):
        module = FixedBatch(batch)
        function = module.__call__.get_concrete_function(
            tf.TensorSpec([batch, FEATURES], tf.float32)
        )
        fixed[batch] = _convert(None, "float32", from_functions=([function], module))
    return {
        "mlp_float": _convert(mlp, "float32"),
        "mlp_int8": _convert(mlp, "int8"),
        "mlp_int8_float_io": _convert(mlp, "int8-float-io"),
        "mlp_uint8": _convert(mlp, "uint8"),
        "mlp_int16": _convert(mlp, "int16"),
        "cnn_int8": _convert(cnn, "int8", shapes=[(8, 8, 1)]),
        "cnn_float": _convert(cnn, "float32"),
        "multi": _convert(multi, "float32"),
        "signatures": _convert(
            None,
            "float32",
            from_functions=(
                [two.add.get_concrete_function(), two.mul.get_concrete_function()],
                two,
            ),
        ),
        "dynamic_length": _convert(
            None,
            "float32",
            from_functions=([row_sums.__call__.get_concrete_function()], row_sums),
        ),
        "fixed_batch_1": fixed[1],
        "fixed_batch_2": fixed[2],
    }


@pytest.fixture(scope="session")
def model_files(
    models: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runtime-models")
    paths = {}
    for name, content in models.items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(content)
    return paths
