"""Top-level shortcuts are the layers' own functions (main lane: needs TensorFlow)."""

from __future__ import annotations

import edgeml
import edgeml.conversion
import edgeml.runtime


def test_load_and_convert_resolve_to_their_layers() -> None:
    assert edgeml.load is edgeml.runtime.load
    assert edgeml.convert is edgeml.conversion.convert
    assert {"load", "convert", "card", "security"} <= set(dir(edgeml))
