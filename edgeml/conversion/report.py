"""What a conversion produced: sizes, ops, tensor types, I/O and quantization coverage.

Everything in :class:`ConversionReport` is read back from the ``.tflite`` bytes (with the
flatbuffer schema shipped in ``ai-edge-litert``, no TensorFlow), except what only the
conversion itself knows (mode, calibration, seconds, versions), which comes from the
``edgeml`` metadata entry the converter embeds.

Examples
--------
>>> from edgeml.modelfile import example_model
>>> report = analyze(example_model())
>>> report.op_counts, report.inputs[0].dtype, report.float_ops
({'FULLY_CONNECTED': 1}, 'float32', ('FULLY_CONNECTED#0',))
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml._html import bar_chart, write_page
from edgeml.errors import ModelFormatError
from edgeml.modelfile import CARD_ENTRY, list_metadata
from edgeml.modelfile._flatbuffer import check_identifier, flatbuffer_utils, parsing

__all__ = ["ConversionReport", "TensorInfo", "analyze"]

_FLOAT = frozenset({"float32", "float16", "float64", "bfloat16"})
_CONVERSION_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})


@dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor of a converted model.

    Attributes
    ----------
    name : str
        The tensor's name in the model.
    shape : tuple of int
        Its shape signature; ``-1`` marks a dynamic dimension (usually the batch).
    dtype : str
        Its element type, e.g. ``"float32"`` or ``"int8"``.
    scale, zero_point : float or None
        Affine quantization parameters (``real = scale * (q - zero_point)``), ``None``
        for a tensor that is not quantized.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None

    @property
    def quantized(self) -> bool:
        """Whether the tensor carries quantization parameters."""
        return self.scale is not None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(self.__dict__))

    def __repr__(self) -> str:
        quant = f", scale={self.scale:.4g}, zero_point={self.zero_point}" if self.quantized else ""
        return f"TensorInfo({self.name!r}, shape={list(self.shape)}, dtype={self.dtype}{quant})"


@dataclass(frozen=True)
class ConversionReport:
    """What a converted model contains and what its conversion did.

    Attributes
    ----------
    mode : str
        Quantization mode: ``"none"``, ``"dynamic"``, ``"float16"``, ``"int8"``,
        ``"int16x8"`` (``"unknown"`` for a model edgeml did not convert).
    io : str
        The requested type of the model's inputs and outputs (``"float"``, ``"int8"``...).
    source : str
        What was converted: ``"keras"``, ``"tf_keras"``, ``"saved_model"`` or
        ``"concrete_function"``.
    bytes, gzip_bytes : int
        Size of the model, and of the model gzip-compressed at level 6, the gzip tool's
        default (pruning and clustering pay off only after compression).
    sha256 : str
        SHA-256 of the model bytes (changes when metadata changes).
    weights_sha256 : str or None
        SHA-256 of the weight buffers only, as stored in the ``edgeml`` entry.
    op_counts : dict
        Operator name -> how many times it occurs (all subgraphs).
    tensor_dtypes : dict
        Element type -> number of tensors of that type.
    weight_dtypes : dict
        Element type -> number of constant tensors (weights, biases) of that type.
    inputs, outputs : tuple of TensorInfo
        Names, shapes, types and quantization parameters of the main subgraph's I/O.
    float_ops : tuple of str
        Operators (``"NAME#index"``) that still compute in floating point, excluding the
        QUANTIZE/DEQUANTIZE ops at the model's edges.
    quantized_op_fraction : float
        Share of operators (QUANTIZE/DEQUANTIZE excluded) whose outputs are integer.
    flex_ops : tuple of str
        TensorFlow (Flex / SELECT_TF_OPS) operators; the device's interpreter must be
        built with the Flex delegate to run them.
    calibration_samples : int or None
        Number of representative samples used to calibrate ranges.
    calibration_privacy : dict or None
        What protects the calibrated ranges (an ``edgeml.privacy.Protection`` as a dict:
        ``"dp"``, ``"public"``, ``"held-out"`` or ``"not protected"``); None without
        calibration data.
    conversion_seconds : float or None
        Wall-clock time of the conversion.
    edgeml_version, tensorflow_version : str or None
        Versions that produced the model.
    warnings : tuple of str
        Problems found while checking the result.
    card_bytes : int
        Bytes the embedded model card adds to the file (stored compressed), 0 without one.
    metadata_bytes : int
        Bytes of every metadata entry together (the card, the ``edgeml`` entry and the
        converter's own); ``bytes - metadata_bytes`` is roughly the model itself.
    """

    mode: str
    io: str
    source: str
    bytes: int
    gzip_bytes: int
    sha256: str
    weights_sha256: str | None
    op_counts: dict[str, int]
    tensor_dtypes: dict[str, int]
    weight_dtypes: dict[str, int]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    float_ops: tuple[str, ...]
    quantized_op_fraction: float
    flex_ops: tuple[str, ...] = ()
    calibration_samples: int | None = None
    calibration_privacy: dict[str, Any] | None = None
    conversion_seconds: float | None = None
    edgeml_version: str | None = None
    tensorflow_version: str | None = None
    warnings: tuple[str, ...] = field(default=())
    card_bytes: int = 0
    metadata_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of every field."""
        return dict(to_jsonable({k: getattr(self, k) for k in self.__dataclass_fields__}))

    def _rows(self) -> list[list[Any]]:
        def io_text(tensors: tuple[TensorInfo, ...]) -> str:
            return "; ".join(
                f"{t.name} {list(t.shape)} {t.dtype}"
                + (f" (scale {t.scale:.4g}, zp {t.zero_point})" if t.quantized else "")
                for t in tensors
            )

        ops = ", ".join(f"{name} x{count}" for name, count in sorted(self.op_counts.items()))
        return [
            ["mode", self.mode],
            ["io", self.io],
            ["source", self.source],
            ["bytes", self.bytes],
            ["of which metadata", self.metadata_bytes],
            ["of which model card", self.card_bytes],
            ["gzip bytes", self.gzip_bytes],
            ["ops", ops],
            ["quantized op fraction", self.quantized_op_fraction],
            ["float ops", ", ".join(self.float_ops) or "none"],
            ["flex ops", ", ".join(self.flex_ops) or "none"],
            ["weight dtypes", ", ".join(f"{k} x{v}" for k, v in self.weight_dtypes.items())],
            ["inputs", io_text(self.inputs)],
            ["outputs", io_text(self.outputs)],
            ["calibration samples", self.calibration_samples],
            [
                "calibration privacy",
                (self.calibration_privacy or {}).get("protection", "no calibration data"),
            ],
            ["conversion seconds", self.conversion_seconds],
            ["edgeml / tensorflow", f"{self.edgeml_version} / {self.tensorflow_version}"],
            ["sha256", self.sha256],
            ["warnings", "; ".join(self.warnings) or "none"],
        ]

    def to_markdown(self) -> str:
        """Return the report as a two-column Markdown table."""
        return markdown_table(["field", "value"], self._rows())

    def _html_sections(self) -> list[str]:
        parts = [html_table(["field", "value"], self._rows(), caption="Conversion report")]
        other = max(0, self.metadata_bytes - self.card_bytes)
        sizes = {
            "model (weights, graph)": max(0, self.bytes - self.metadata_bytes),
            "model card": self.card_bytes,
            "other metadata": other,
        }
        parts.append(
            bar_chart(
                list(sizes),
                [float(v) for v in sizes.values()],
                title=f"Where the {self.bytes:,} bytes go",
            )
        )
        ops = sorted(self.op_counts.items(), key=lambda item: (-item[1], item[0]))[:40]
        if ops:
            parts.append(
                bar_chart(
                    [name for name, _ in ops],
                    [float(count) for _, count in ops],
                    title="Operators by count",
                )
            )
        return parts

    def _repr_html_(self) -> str:
        return "".join(self._html_sections())

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as a standalone HTML page (inline styles and charts).

        The page shows what a notebook shows: the report's table, where the file's
        bytes go (model, embedded card, other metadata) and the operators by count. It
        opens in a browser without a server, runs no script and loads nothing from the
        network. The file is written atomically.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, usually ending in ``.html``.

        Returns
        -------
        pathlib.Path
            The written file.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from edgeml.modelfile import example_model
        >>> report = analyze(example_model())
        >>> page = report.save_html(pathlib.Path(tempfile.mkdtemp()) / "conversion.html")
        >>> text = page.read_text()
        >>> "FULLY_CONNECTED" in text, text.count("<svg")
        (True, 2)
        """
        return write_page(path, "Conversion report", self._html_sections())

    def __repr__(self) -> str:
        return (
            f"ConversionReport(mode={self.mode!r}, io={self.io!r}, bytes={self.bytes}, "
            f"gzip_bytes={self.gzip_bytes}, ops={sum(self.op_counts.values())}, "
            f"float_ops={len(self.float_ops)}, warnings={len(self.warnings)})"
        )


def _type_name(utils: ModuleType, code: int) -> str:
    return str(utils.type_to_name(code)).lower()


def _tensor_info(utils: ModuleType, tensor: Any) -> TensorInfo:
    name = tensor.name.decode("utf-8", "replace") if isinstance(tensor.name, bytes) else tensor.name
    signature = tensor.shapeSignature if tensor.shapeSignature is not None else tensor.shape
    shape = tuple(int(d) for d in (signature if signature is not None else []))
    quant = tensor.quantization
    scale = zero_point = None
    if quant is not None and quant.scale is not None and len(quant.scale) > 0:
        scale = float(quant.scale[0])
        zero_point = int(quant.zeroPoint[0]) if quant.zeroPoint is not None else 0
    return TensorInfo(str(name or ""), shape, _type_name(utils, tensor.type), scale, zero_point)


def analyze(model_bytes: bytes, conversion: Mapping[str, Any] | None = None) -> ConversionReport:
    """Read a ``.tflite`` model's structure into a :class:`ConversionReport`.

    Parameters
    ----------
    model_bytes : bytes
        The model.
    conversion : Mapping, optional
        What only the conversion knows (``mode``, ``io``, ``source``,
        ``calibration_samples``, ``conversion_seconds``, versions, ``warnings``,
        ``weights_sha256``), usually the ``edgeml`` metadata entry.

    Returns
    -------
    ConversionReport
        The report.

    Raises
    ------
    ModelFormatError
        When the bytes are not a TFLite model.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> analyze(example_model()).weight_dtypes
    {'float32': 1}
    """
    content = bytes(model_bytes)
    check_identifier(content)
    utils = flatbuffer_utils()
    try:
        model = utils.convert_bytearray_to_object(bytearray(content))
    except Exception as exc:
        raise ModelFormatError(
            f"The TFLite flatbuffer cannot be parsed ({type(exc).__name__}: {exc})."
        ) from exc
    with parsing():
        return _report(content, model, utils, dict(conversion or {}))


def _report(
    content: bytes, model: Any, utils: ModuleType, info: dict[str, Any]
) -> ConversionReport:
    """Count ops and tensor types of a parsed model (see :func:`analyze`)."""
    op_names = [utils.opcode_to_name(model, i) for i in range(len(model.operatorCodes or []))]
    custom = [
        (
            c.customCode.decode("utf-8", "replace")
            if isinstance(c.customCode, bytes)
            else c.customCode
        )
        for c in model.operatorCodes or []
    ]
    op_counts: Counter[str] = Counter()
    tensor_dtypes: Counter[str] = Counter()
    weight_dtypes: Counter[str] = Counter()
    float_ops: list[str] = []
    flex_ops: set[str] = set()
    considered = 0
    index = 0
    for subgraph in model.subgraphs or []:
        tensors = subgraph.tensors or []
        for tensor in tensors:
            dtype = _type_name(utils, tensor.type)
            tensor_dtypes[dtype] += 1
            buffer = model.buffers[tensor.buffer] if tensor.buffer else None
            if buffer is not None and (
                (buffer.data is not None and len(buffer.data)) or (buffer.size or 0) > 0
            ):
                weight_dtypes[dtype] += 1
        for op in subgraph.operators or []:
            name = custom[op.opcodeIndex] or op_names[op.opcodeIndex] or "UNKNOWN"
            op_counts[name] += 1
            if name.startswith("Flex"):
                flex_ops.add(name)
            if name not in _CONVERSION_OPS:
                considered += 1
                out_types = {_type_name(utils, tensors[i].type) for i in op.outputs if i >= 0}
                if out_types & _FLOAT:
                    float_ops.append(f"{name}#{index}")
            index += 1
    main = model.subgraphs[0]
    entries = list_metadata(content)
    quantized_fraction = 1.0 - len(float_ops) / considered if considered else 0.0
    return ConversionReport(
        mode=str(info.get("mode", "unknown")),
        io=str(info.get("io", "unknown")),
        source=str(info.get("source", "unknown")),
        bytes=len(content),
        gzip_bytes=len(gzip.compress(content, compresslevel=6, mtime=0)),
        sha256=hashlib.sha256(content).hexdigest(),
        weights_sha256=info.get("weights_sha256"),
        op_counts=dict(sorted(op_counts.items())),
        tensor_dtypes=dict(sorted(tensor_dtypes.items())),
        weight_dtypes=dict(sorted(weight_dtypes.items())),
        inputs=tuple(_tensor_info(utils, main.tensors[i]) for i in main.inputs),
        outputs=tuple(_tensor_info(utils, main.tensors[i]) for i in main.outputs),
        float_ops=tuple(float_ops),
        quantized_op_fraction=round(quantized_fraction, 6),
        flex_ops=tuple(sorted(flex_ops)),
        calibration_samples=info.get("calibration_samples"),
        calibration_privacy=info.get("calibration_privacy"),
        conversion_seconds=info.get("conversion_seconds"),
        edgeml_version=info.get("edgeml_version"),
        tensorflow_version=info.get("tensorflow_version"),
        warnings=tuple(info.get("warnings", ())),
        card_bytes=entries.get(CARD_ENTRY, 0),
        metadata_bytes=sum(entries.values()),
    )
