"""Model cards inside real .tflite files, built with TensorFlow's own converter.

The model is made by ``tf.lite.TFLiteConverter.from_keras_model`` (not by edgeml), and
outputs are compared with the LiteRT interpreter run directly on both files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeml.card import CARD_ENTRY, ModelCard, embed_card, json_schema, read_card
from edgeml.conversion.metadata import (
    list_metadata,
    read_metadata,
    weights_sha256,
    with_metadata,
)
from edgeml.errors import ModelFormatError
from edgeml.security import SEALED_MAGIC, generate_key, seal, unseal

pytestmark = [pytest.mark.tf, pytest.mark.slow]

X = np.random.default_rng(1).normal(size=(16, 8)).astype(np.float32)
Y = np.random.default_rng(2).integers(0, 3, size=16)


@pytest.fixture(scope="module")
def keras_and_tflite() -> tuple[Any, bytes]:
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((8,)),
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(3),
        ]
    )
    converted = bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return model, converted


@pytest.fixture(scope="module")
def tflite(keras_and_tflite: tuple[Any, bytes]) -> bytes:
    return keras_and_tflite[1]


def _litert_outputs(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


CARD = ModelCard.build(
    "mlp", version="0.1", owner="edge team", limitations=["toy model"], metrics={"acc": 0.3}
)


def test_round_trip_through_a_real_tflite(tflite: bytes) -> None:
    assert read_card(tflite) is None
    with_card = embed_card(tflite, CARD)
    assert read_card(with_card) == CARD
    assert read_card(with_card).hash == CARD.hash  # type: ignore[union-attr]
    assert read_metadata(with_card)[CARD_ENTRY] == CARD.to_dict()


def test_interpreter_outputs_are_identical_after_embedding(tflite: bytes) -> None:
    with_card = embed_card(tflite, CARD)
    np.testing.assert_array_equal(_litert_outputs(with_card, X), _litert_outputs(tflite, X))
    assert weights_sha256(with_card) == weights_sha256(tflite)


def test_converter_entries_survive_and_a_new_card_replaces_the_old(tflite: bytes) -> None:
    first = embed_card(tflite, CARD)
    second = embed_card(first, CARD.replace(version="0.2"))
    entries = list_metadata(second)
    assert "min_runtime_version" in entries
    assert list(entries).count(CARD_ENTRY) == 1
    assert read_card(second).version == "0.2"  # type: ignore[union-attr]


def test_read_card_from_a_path_and_from_a_converted_model(tflite: bytes, tmp_path: Path) -> None:
    from edgeml.conversion import TFLiteModel

    path = tmp_path / "model.tflite"
    path.write_bytes(embed_card(TFLiteModel(tflite), CARD))
    assert read_card(path) == CARD
    assert read_card(str(path)) == CARD
    assert read_card(TFLiteModel(path.read_bytes())) == CARD


def test_read_card_from_a_loaded_model(tflite: bytes) -> None:
    from edgeml.runtime import load

    assert read_card(load(embed_card(tflite, CARD))) == CARD


def test_sealed_model_keeps_its_card_inside(tflite: bytes) -> None:
    key = generate_key()
    sealed = seal(embed_card(tflite, CARD), key, associated_data=CARD.hash)
    assert sealed[:8] == SEALED_MAGIC
    with pytest.raises(ModelFormatError, match="unseal first"):
        read_card(sealed)
    assert read_card(unseal(sealed, key, associated_data=CARD.hash)) == CARD


def test_a_broken_card_entry_is_a_model_format_error(tflite: bytes) -> None:
    broken = with_metadata(tflite, CARD_ENTRY, {"format": "something else"})
    with pytest.raises(ModelFormatError, match="not an edgeml model card"):
        read_card(broken)


def test_not_a_model_is_a_model_format_error() -> None:
    with pytest.raises(ModelFormatError):
        embed_card(b"not a model at all", CARD)


def test_card_from_real_conversion_results_validates_and_embeds(
    keras_and_tflite: tuple[Any, bytes],
) -> None:
    from edgeml.conversion import compare
    from edgeml.conversion.report import analyze

    keras_model, model_bytes = keras_and_tflite
    report = analyze(model_bytes)
    comparison = compare(keras_model, model_bytes, X, Y)
    card = ModelCard.build("mlp", conversion=report, evaluation=comparison)
    assert card.conversion == report.to_dict()
    assert card.evaluation is not None
    assert card.evaluation["max_abs_diff"] == pytest.approx(comparison.max_abs_diff)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(json_schema()).validate(card.to_dict())
    markdown = card.to_markdown()
    assert "## Conversion" in markdown
    assert "## Original vs converted model" in markdown
    assert read_card(embed_card(model_bytes, card)) == card


def test_the_card_is_stored_compressed_and_small(tflite: bytes) -> None:
    """A card with a drift baseline for 64 features must not dominate a small model."""
    import json
    import zlib

    from edgeml.drift import Histogram

    baseline = Histogram.fit(np.random.default_rng(0).normal(size=(500, 64)), bins=10)
    card = CARD.replace(drift_baseline=baseline)
    plain = json.dumps(card.to_dict(), ensure_ascii=False).encode()
    with_card = embed_card(tflite, card)
    stored = list_metadata(with_card)[CARD_ENTRY]
    # Reference: zlib's own best compression of the same JSON, plus the 14-byte marker.
    assert stored == len(zlib.compress(plain, 9)) + 14
    assert stored < len(plain) / 2
    assert read_card(with_card) == card
    assert read_metadata(with_card)[CARD_ENTRY] == card.to_dict()  # documents decompress


def test_cards_stored_as_plain_json_by_earlier_versions_are_read(tflite: bytes) -> None:
    legacy = with_metadata(tflite, CARD_ENTRY, CARD.to_dict())  # the uncompressed form
    assert read_card(legacy) == CARD
    assert read_card(embed_card(legacy, CARD.replace(version="0.3"))).version == "0.3"  # type: ignore[union-attr]


def test_a_damaged_compressed_card_is_a_model_format_error(tflite: bytes) -> None:
    with_card = embed_card(tflite, CARD)
    content = bytearray(with_card)
    start = bytes(content).find(b"\x00edgeml-zjson\x01") + 14
    content[start + 5 : start + 9] = b"\xff\xff\xff\xff"
    with pytest.raises(ModelFormatError, match="card is damaged"):
        read_card(bytes(content))
