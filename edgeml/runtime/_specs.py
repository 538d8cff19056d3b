"""Small values that describe a model's tensors and signatures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeml._display import html_table, markdown_table, to_jsonable

__all__ = ["Quantization", "Signature", "TensorSpec"]


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of a tensor: ``real = scale * (q - zero_point)``.

    Attributes
    ----------
    scale : tuple of float
        One scale per tensor, or one per channel along ``axis``.
    zero_point : tuple of int
        Zero points, as many as scales.
    axis : int
        The quantized dimension for per-channel quantization (0 otherwise).

    Examples
    --------
    >>> Quantization(scale=(0.5,), zero_point=(-3,), axis=0)
    Quantization(scale=0.5, zero_point=-3)
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        """Whether there is more than one scale."""
        return len(self.scale) > 1

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"scale": list(self.scale), "zero_point": list(self.zero_point), "axis": self.axis}

    def __repr__(self) -> str:
        if self.per_channel:
            return f"Quantization({len(self.scale)} channels along axis {self.axis})"
        return f"Quantization(scale={self.scale[0]:.6g}, zero_point={self.zero_point[0]})"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model, as :class:`~edgeml.runtime.EdgeModel` sees it.

    Attributes
    ----------
    name : str
        The name used in ``predict`` dicts: the signature's name when the model has
        signatures, else the tensor's name.
    shape : tuple
        Dimensions, ``None`` where the model accepts any size (usually the batch).
    dtype : str
        The tensor's numpy dtype name, e.g. ``"float32"`` or ``"int8"``.
    quantization : Quantization or None
        Scale and zero point of an integer tensor that stands for real values;
        ``predict`` converts floats through it unless ``raw=True``.
    tensor_name : str
        The tensor's name inside the flatbuffer.
    index : int
        The tensor's index in its subgraph.

    Examples
    --------
    >>> TensorSpec("x", (None, 4), "int8", Quantization((0.1,), (0,)), "serving_x:0", 0)
    TensorSpec('x', shape=(None, 4), dtype=int8, scale=0.1, zero_point=0)
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    quantization: Quantization | None
    tensor_name: str
    index: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(self.__dict__))

    def _row(self) -> list[Any]:
        shape = "(" + ", ".join("?" if d is None else str(d) for d in self.shape) + ")"
        q = self.quantization
        if q is None:
            quant = ""
        elif q.per_channel:
            quant = f"per-channel ({len(q.scale)}, axis {q.axis})"
        else:
            quant = f"scale={q.scale[0]:.6g}, zero_point={q.zero_point[0]}"
        return [self.name, shape, self.dtype, quant]

    def __repr__(self) -> str:
        quant = ""
        if self.quantization is not None:
            quant = ", " + repr(self.quantization)[len("Quantization(") : -1]
        return f"TensorSpec({self.name!r}, shape={self.shape}, dtype={self.dtype}{quant})"


_HEADERS = ["direction", "name", "shape", "dtype", "quantization"]


@dataclass(frozen=True)
class Signature:
    """A named entry point of a model with its inputs and outputs in order.

    Attributes
    ----------
    name : str
        The signature key, e.g. ``"serving_default"``; ``""`` for a model without
        signatures (its main subgraph).
    inputs : tuple of TensorSpec
        Inputs in positional order (the model's input order).
    outputs : tuple of TensorSpec
        Outputs in the order ``predict(..., output="tuple")`` returns them.
    subgraph : int
        The subgraph that runs it.
    """

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    subgraph: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(self.__dict__))

    def _rows(self) -> list[list[Any]]:
        return [["input", *s._row()] for s in self.inputs] + [
            ["output", *s._row()] for s in self.outputs
        ]

    def to_markdown(self) -> str:
        """Return the inputs and outputs as a Markdown table."""
        return markdown_table(_HEADERS, self._rows())

    def _repr_html_(self) -> str:
        return html_table(_HEADERS, self._rows(), caption=f"signature {self.name!r}")

    def __repr__(self) -> str:
        ins = ", ".join(s.name for s in self.inputs)
        outs = ", ".join(s.name for s in self.outputs)
        return f"Signature({self.name!r}, inputs=[{ins}], outputs=[{outs}])"
