"""``load`` and ``EdgeModel``: a safe, fast wrapper around one LiteRT interpreter."""

from __future__ import annotations

import copy
import logging
import os
import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgeml.card import ModelCard, read_card
from edgeml.errors import invalid_argument
from edgeml.modelfile import Integrity, read_metadata, read_model_file, verify_integrity
from edgeml.modelfile._flatbuffer import check_identifier
from edgeml.runtime._benchmark import BenchmarkResult, run_benchmark
from edgeml.runtime._interpreter import build_plans, check_num_threads, make_interpreter
from edgeml.runtime._plan import Plan
from edgeml.runtime._specs import Signature, TensorSpec
from edgeml.runtime._training import TrainingMixin  # on-device training (issue 14)

__all__ = ["EdgeModel", "load"]

logger = logging.getLogger("edgeml.runtime")

Backend = Literal["auto", "litert", "tflite"]
NonFinitePolicy = Literal["raise", "allow"]
OutputForm = Literal["auto", "dict", "tuple"]


def _read_source(model: object) -> tuple[bytes, str | None]:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), None
    if isinstance(model, (str, os.PathLike)):
        return read_model_file(model, "load"), os.fspath(model)
    raise invalid_argument("load", "model", model, "a path to a .tflite file or the model's bytes")


def load(
    model: bytes | str | os.PathLike[str],
    *,
    num_threads: int | None = None,
    backend: Backend = "auto",
    nonfinite: NonFinitePolicy = "raise",
    key: Any = None,
    verify_with: Any = None,
    signature: bytes | str | os.PathLike[str] | None = None,
    associated_data: bytes | str | None = None,
) -> EdgeModel:
    """Load a ``.tflite`` model for inference, checking it before it runs.

    The model is read into memory and handed to the interpreter as bytes, so a
    truncated or corrupted file raises :class:`~edgeml.errors.ModelFormatError` instead
    of crashing the process. When the model carries edgeml's metadata with a weights
    SHA-256 (every model from :func:`edgeml.convert` does), the weights are hashed and
    compared: a mismatch raises :class:`~edgeml.errors.IntegrityError`.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        A path to a ``.tflite`` file, or the model's bytes.
    num_threads : int, optional
        Threads the interpreter may use; ``None`` lets it choose. On small devices one
        thread is often fastest.
    backend : {"auto", "litert", "tflite"}, default "auto"
        ``"litert"`` uses ``ai_edge_litert`` (the ``litert`` extra, no TensorFlow);
        ``"tflite"`` uses ``tf.lite.Interpreter`` from TensorFlow; ``"auto"`` picks
        LiteRT and falls back to ``tf.lite`` only when LiteRT is not installed.
    nonfinite : {"raise", "allow"}, default "raise"
        What ``predict`` does with NaN or infinite values in a float input: raise a
        :class:`~edgeml.errors.DataError` naming the input, or pass them to the model.
        Inputs that must be quantized always reject them (they have no integer value).
    key : edgeml.security.SecretKey or bytes, optional
        Opens a model sealed with :func:`edgeml.security.seal`. Given a key, an unsealed
        file is refused (so a plain file cannot be swapped in for a sealed one).
    verify_with : Ed25519PublicKey or bytes, optional
        The publisher's public key: the model is refused unless its detached Ed25519
        signature (``signature``, by default ``<path>.sig``) verifies.
    signature : bytes or str or os.PathLike, optional
        The detached signature or its path, with ``verify_with``.
    associated_data : bytes or str, optional
        What the model was sealed with as associated data (e.g. its card's ``hash``).

    Returns
    -------
    EdgeModel
        The loaded model.

    Raises
    ------
    ModelFormatError
        When the bytes are not a valid model.
    IntegrityError
        When the weights do not match the hash stored at conversion, a signature does
        not verify, or a sealed model does not open with ``key``.
    ConfigError
        When the model is sealed and no ``key`` was given (the message names the key's
        fingerprint).
    UnsupportedModelError
        When the model needs ops this interpreter lacks (Flex or custom ops).
    MissingDependencyError
        When neither ``ai-edge-litert`` nor TensorFlow is installed.

    Examples
    --------
    >>> import numpy as np
    >>> import edgeml.runtime
    >>> from edgeml.modelfile import example_model
    >>> model = edgeml.runtime.load(example_model(), num_threads=1)
    >>> model.inputs
    (TensorSpec('x', shape=(1, 2), dtype=float32),)
    >>> model.predict(np.array([[1.0, 2.0], [0.0, 1.0]]))
    array([[ 2.,  8., 14.],
           [ 1.,  3.,  5.]], dtype=float32)
    """
    check_num_threads("load", num_threads)
    if backend not in ("auto", "litert", "tflite"):
        raise invalid_argument("load", "backend", backend, "'auto', 'litert' or 'tflite'")
    if nonfinite not in ("raise", "allow"):
        raise invalid_argument("load", "nonfinite", nonfinite, "'raise' or 'allow'")
    content, path = _read_source(model)
    # Deferred: edgeml.security imports the cryptography package, needed only here.
    from edgeml.security import is_sealed, open_model_bytes

    if key is not None or verify_with is not None or signature is not None or is_sealed(content):
        content = open_model_bytes(
            model if path is not None else content,
            key=key,
            verify_with=verify_with,
            signature=signature,
            associated_data=associated_data,
        )
    return EdgeModel._from_bytes(content, path, num_threads, backend, nonfinite, None)


class EdgeModel(TrainingMixin):
    """A loaded ``.tflite`` model: validated inputs, float I/O, any batch size.

    Create it with :func:`load`. ``predict`` takes real-valued inputs even when the
    model is quantized (int8, uint8 or int16 I/O): they are quantized with each input's
    scale and zero point exactly as the LiteRT interpreter's QUANTIZE kernel does
    (multiply by the float32 reciprocal of the scale, round half to even, saturate), and
    outputs are dequantized. ``raw=True`` skips both.

    Thread safety: one interpreter must not run two calls at once. ``predict`` holds a
    lock, so calling it from several threads is safe (calls are serialized). For calls
    that run in parallel, give each thread its own interpreter with :meth:`clone`
    (the interpreter releases the GIL while it computes).

    Attributes
    ----------
    path : str or None
        The file the model came from, if any.
    size : int
        The model's size in bytes.
    backend : str
        ``"litert"`` or ``"tflite"``.
    num_threads : int or None
        As passed to :func:`load`.
    """

    path: str | None
    size: int
    backend: str
    num_threads: int | None
    _content: bytes
    _nonfinite: str
    _interpreter: Any
    _plans: dict[str, Plan]
    _default: Plan
    _metadata: dict[str, dict[str, Any]]
    _integrity: Integrity
    _lock: threading.Lock

    def __init__(self) -> None:  # pragma: no cover - use edgeml.runtime.load
        raise TypeError("Create an EdgeModel with edgeml.runtime.load(path_or_bytes).")

    @classmethod
    def _from_bytes(
        cls,
        content: bytes,
        path: str | None,
        num_threads: int | None,
        backend: str,
        nonfinite: str,
        known: tuple[dict[str, dict[str, Any]], Integrity] | None,
    ) -> EdgeModel:
        check_identifier(content)
        if known is None:
            # Before the interpreter sees it: altered weights or quantization parameters
            # are reported as such, not as whatever the interpreter makes of them.
            integrity = verify_integrity(content)
            metadata = read_metadata(content)
        else:
            metadata, integrity = known
        interpreter, resolved = make_interpreter(content, num_threads, backend)
        self = object.__new__(cls)
        self._content = content
        self.path = path
        self.size = len(content)
        self.backend = resolved
        self.num_threads = num_threads
        self._nonfinite = nonfinite
        self._interpreter = interpreter
        self._plans = build_plans(interpreter, content)
        self._default = self._plans.get("infer") or next(  # trainable models: "infer"
            (p for p in self._plans.values() if p.subgraph == 0),
            next(iter(self._plans.values())),
        )
        self._metadata = metadata
        self._integrity = integrity
        self._lock = threading.Lock()
        logger.debug("loaded %s (%d bytes) with %s", path or "model bytes", self.size, resolved)
        return self

    # -- description ------------------------------------------------------------------

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        """The default signature's inputs, in positional order."""
        return self._default.signature.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """The default signature's outputs, in tuple order."""
        return self._default.signature.outputs

    @property
    def signatures(self) -> dict[str, Signature]:
        """Every signature by name (``{"": ...}`` for a model without signatures)."""
        return {name: plan.signature for name, plan in self._plans.items()}

    @property
    def metadata(self) -> dict[str, dict[str, Any]]:
        """The JSON documents embedded in the model (see :mod:`edgeml.modelfile`).

        Returns a copy; editing it does not change the model.
        """
        return copy.deepcopy(self._metadata)

    @property
    def card(self) -> ModelCard | None:
        """The embedded model card, or ``None`` when the model has none.

        The same :class:`~edgeml.card.ModelCard` that :func:`edgeml.card.read_card`
        returns (use ``card.to_dict()`` for the JSON document).

        Raises
        ------
        ModelFormatError
            When the model's card entry is damaged or not a valid card.
        """
        return read_card(self._content)

    @property
    def integrity(self) -> Integrity:
        """The result of the weights check made at load (``verified`` or ``unverified``)."""
        return self._integrity

    @property
    def content(self) -> bytes:
        """The model's bytes."""
        return self._content

    def __repr__(self) -> str:
        where = repr(Path(self.path).name) if self.path else "bytes"

        def ports(specs: tuple[TensorSpec, ...]) -> str:
            return ", ".join(
                f"{s.name} {tuple('?' if d is None else d for d in s.shape)} {s.dtype}"
                for s in specs
            ).replace("'?'", "?")

        return (
            f"EdgeModel({where}, {self.size:,} bytes, inputs=[{ports(self.inputs)}], "
            f"outputs=[{ports(self.outputs)}], backend={self.backend!r}, "
            f"integrity={self._integrity.status!r})"
        )

    def _repr_html_(self) -> str:
        return self._default.signature._repr_html_()

    def to_markdown(self) -> str:
        """Return the default signature's inputs and outputs as a Markdown table."""
        return self._default.signature.to_markdown()

    # -- inference --------------------------------------------------------------------

    def predict(
        self,
        x: Any,
        *,
        signature: str | None = None,
        raw: bool = False,
        output: OutputForm = "auto",
        batch_size: int | None = None,
    ) -> Any:
        """Run the model on a batch of inputs.

        Parameters
        ----------
        x : array_like, sequence of array_like, or dict
            One array for a single-input model; for several inputs, a dict by input
            name or a list in the order of :attr:`inputs`. The first dimension is the
            batch and may have any size: the model is resized when its batch dimension
            is dynamic, otherwise it runs once per batch it accepts (results are the
            same as running each sample alone).
        signature : str, optional
            Which signature to run (see :attr:`signatures`); default: the main one.
        raw : bool, default False
            Pass inputs and return outputs in the tensors' own types, skipping
            quantization and dequantization.
        output : {"auto", "dict", "tuple"}, default "auto"
            "auto" returns an array for one output and a dict by name for several.
        batch_size : int, optional
            The largest batch run in one invocation of a resizable model; default:
            as many samples as keep the model's activations (the sum of its
            non-constant tensors) within 8 MiB, at most 1024.

        Returns
        -------
        numpy.ndarray or dict or tuple
            The outputs, float32 for quantized outputs unless ``raw=True``.

        Raises
        ------
        DataError
            When an input is missing or unknown, or has the wrong rank, shape or dtype,
            or holds NaN or infinite values (see ``nonfinite`` in :func:`load`). The
            message names the input, what was given and what is expected.
        ConfigError
            For an unknown signature or a bad ``output`` or ``batch_size``.

        Examples
        --------
        >>> import numpy as np
        >>> from edgeml.modelfile import example_model
        >>> model = load(example_model())
        >>> model.predict(np.ones((3, 2))).shape
        (3, 3)
        >>> model.predict(np.ones((1, 3)))
        Traceback (most recent call last):
        ...
        edgeml.errors.DataError: Input 'x' must have shape (1, 2) of float32, with any batch size first; got shape (1, 3).
        """  # noqa: E501
        plan = self._default if signature is None else self._plan(signature)
        if (
            plan.fast
            and type(x) is np.ndarray
            and x.shape == plan.current0
            and output == "auto"
            and batch_size is None
        ):
            result = plan.fast_predict(x, raw, self._nonfinite, self._lock)
            if result is not None:
                return result
        if output not in ("auto", "dict", "tuple"):
            raise invalid_argument("predict", "output", output, "'auto', 'dict' or 'tuple'")
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise invalid_argument("predict", "batch_size", batch_size, "None or an int >= 1")
        arrays = plan.prepare(x, raw, self._nonfinite)
        with self._lock:
            results = plan.run(arrays, batch_size)
        return plan.finish(results, raw, output)

    def _plan(self, signature: str) -> Plan:
        plan = self._plans.get(signature)
        if plan is None:
            raise invalid_argument(
                "predict",
                "signature",
                signature,
                f"one of {sorted(self._plans)}",
                fix="see EdgeModel.signatures",
            )
        return plan

    def clone(self, *, num_threads: int | None = None) -> EdgeModel:
        """Return an independent copy with its own interpreter (one per thread).

        Parameters
        ----------
        num_threads : int, optional
            Threads for the new interpreter; default: the same as this model.

        Returns
        -------
        EdgeModel
            A model over the same bytes; the integrity check is not repeated.

        Examples
        --------
        >>> from edgeml.modelfile import example_model
        >>> model = load(example_model())
        >>> model.clone().predict([[1.0, 1.0]]).tolist()
        [[1.0, 5.0, 9.0]]
        """
        check_num_threads("clone", num_threads)
        threads = self.num_threads if num_threads is None else num_threads
        return EdgeModel._from_bytes(
            self._content,
            self.path,
            threads,
            self.backend,
            self._nonfinite,
            (self._metadata, self._integrity),
        )

    def benchmark(
        self,
        *,
        batch_size: int = 1,
        runs: int = 200,
        warmup: int = 20,
        num_threads: int | None = None,
        seed: int = 0,
    ) -> BenchmarkResult:
        """Measure latency, throughput and peak memory of :meth:`predict`.

        Parameters
        ----------
        batch_size : int, default 1
            Samples per call.
        runs : int, default 200
            Timed calls.
        warmup : int, default 20
            Untimed calls first.
        num_threads : int, optional
            Run on a clone with this many threads; default: this model as loaded.
        seed : int, default 0
            Seed of the random inputs.

        Returns
        -------
        BenchmarkResult
            Latency percentiles and mean in milliseconds, samples per second, peak RSS.

        Examples
        --------
        >>> from edgeml.modelfile import example_model
        >>> result = load(example_model()).benchmark(runs=20, warmup=2)
        >>> result.runs, result.p50_ms <= result.p99_ms
        (20, True)
        """
        return run_benchmark(
            self,
            batch_size=batch_size,
            runs=runs,
            warmup=warmup,
            num_threads=num_threads,
            seed=seed,
        )
