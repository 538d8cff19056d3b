"""What the tensor tables of a model say about quantization, read without an interpreter."""

from __future__ import annotations

from edgeml.modelfile._flatbuffer import flatbuffer_utils, parsing, root

__all__ = ["quantized_activations"]


def quantized_activations(content: bytes) -> int:
    """Count the integer tensors that hold activations (no constant data) in a model.

    Each such tensor carries a scale and zero point calibrated on data, which is what a
    privacy audit of a full-integer model must account for.

    Parameters
    ----------
    content : bytes
        The ``.tflite`` model.

    Returns
    -------
    int
        int8, uint8 and int16 tensors whose buffer is empty, over all subgraphs.

    Raises
    ------
    ModelFormatError
        When the bytes are not a readable TFLite model.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> quantized_activations(example_model())  # a float model
    0
    """
    kinds = flatbuffer_utils().schema_fb.TensorType
    integer = {kinds.INT8, kinds.UINT8, kinds.INT16}
    count = 0
    with parsing():
        model = root(content)
        for s in range(model.SubgraphsLength()):
            subgraph = model.Subgraphs(s)
            for t in range(subgraph.TensorsLength()):
                tensor = subgraph.Tensors(t)
                if tensor.Type() not in integer:
                    continue
                index = tensor.Buffer()
                buffer = model.Buffers(index) if 0 < index < model.BuffersLength() else None
                if buffer is None or (buffer.DataLength() == 0 and buffer.Size() == 0):
                    count += 1
    return count
