"""A tiny valid model, built from the schema, for examples and tests."""

from __future__ import annotations

import numpy as np

from edgeml.modelfile._flatbuffer import flatbuffer_utils

__all__ = ["example_model"]


def example_model() -> bytes:
    """Return a small, valid float model: ``y = x @ W.T`` with ``W = [[0, 1], [2, 3], [4, 5]]``.

    One FULLY_CONNECTED op with input ``x`` of shape (1, 2) and output ``y`` of shape
    (1, 3), plus the converter's two binary metadata entries. Built from LiteRT's
    schema, without TensorFlow; useful in examples and tests.

    Returns
    -------
    bytes
        The ``.tflite`` model.

    Examples
    --------
    >>> from edgeml.modelfile import list_metadata
    >>> model = example_model()
    >>> model[4:8], sorted(list_metadata(model))
    (b'TFL3', ['CONVERSION_METADATA', 'min_runtime_version'])
    """
    schema = flatbuffer_utils().schema_fb
    model = schema.ModelT()
    model.version = 3
    model.description = "edgeml doctest model"
    weights = np.arange(6, dtype=np.float32).reshape(3, 2)
    model.buffers = [schema.BufferT(), schema.BufferT()]
    model.buffers[1].data = np.frombuffer(weights.tobytes(), dtype=np.uint8)
    for name, text in (("min_runtime_version", b"1.5.0\0\0\0"), ("CONVERSION_METADATA", b"\x08")):
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(text, dtype=np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(model.buffers) - 1
        model.metadata = [*(model.metadata or []), entry]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    model.operatorCodes = [code]
    tensors = []
    for name, shape, buffer_index in (("x", [1, 2], 0), ("w", [3, 2], 1), ("y", [1, 3], 0)):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.buffer = name, shape, buffer_index
        tensor.type = schema.TensorType.FLOAT32
        tensors.append(tensor)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, -1], [2]
    op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = schema.FullyConnectedOptionsT()
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators = tensors, [op]
    subgraph.inputs, subgraph.outputs, subgraph.name = [0], [2], "main"
    model.subgraphs = [subgraph]
    return bytes(flatbuffer_utils().convert_object_to_bytearray(model))
