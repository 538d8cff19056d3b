"""On-device training through LiteRT: ``train_step``, ``fit``, weights and ``save``.

Works on models from :func:`edgeml.conversion.to_trainable`, whose signatures and
``on_device_training`` metadata document say what to feed. Nothing here imports
TensorFlow: every step runs in the LiteRT interpreter, and the trained model is written
by patching the variables' initial values inside the flatbuffer.

Safety: the ``train`` and ``apply`` signatures compute every new value first and assign
them only when the loss and all of them are finite, so a NaN step changes nothing;
``train_step`` and ``fit`` also restore a snapshot of every variable if the interpreter
raises in the middle of a step.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml._io import atomic_write
from edgeml.errors import (
    DataError,
    InferenceError,
    ModelFormatError,
    UnsupportedModelError,
    invalid_argument,
)
from edgeml.modelfile import TRAINING_ENTRY
from edgeml.runtime._training_checks import check_xy, well_formed
from edgeml.runtime._training_dp import dp_epoch, dp_plan, record, secure_normal
from edgeml.runtime._training_save import now, trained_content

__all__ = ["TrainingHistory", "TrainingMixin", "secure_normal"]


@dataclass(frozen=True)
class TrainingHistory(Mapping[str, float]):
    """What :meth:`EdgeModel.fit` did.

    It is also a read-only mapping of the final metrics, ``loss``, ``steps``,
    ``num_examples`` (and ``epsilon`` with DP), as plain floats: what a federated
    client reports after ``fit`` (``dict(history)``).

    Attributes
    ----------
    losses : tuple of float
        Mean training loss of each epoch (over the steps of that epoch).
    step_losses : tuple of float
        The loss of every step, in order.
    steps : int
        Optimizer steps applied.
    num_examples : int
        Examples in the training set (what a federated client reports).
    epochs : int
        Passes over the data.
    seconds : float
        Wall-clock time of the whole fit.
    dp : dict or None
        With local differential privacy: ``l2_norm_clip``, ``noise_multiplier``,
        ``sampling_rate``, ``steps``, ``delta`` and the ``epsilon`` spent.
    """

    losses: tuple[float, ...]
    step_losses: tuple[float, ...]
    steps: int
    num_examples: int
    epochs: int
    seconds: float
    dp: dict[str, Any] | None = field(default=None)

    @property
    def loss(self) -> float:
        """The last epoch's mean loss."""
        return self.losses[-1] if self.losses else math.nan

    def _metrics(self) -> dict[str, float]:
        metrics = {
            "loss": self.loss,
            "steps": float(self.steps),
            "num_examples": float(self.num_examples),
        }
        if self.dp is not None:
            metrics["epsilon"] = float(self.dp["epsilon"])
        return metrics

    def __getitem__(self, key: str) -> float:
        return self._metrics()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._metrics())

    def __len__(self) -> int:
        return len(self._metrics())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "losses": list(self.losses),
            "step_losses": list(self.step_losses),
            "steps": self.steps,
            "num_examples": self.num_examples,
            "epochs": self.epochs,
            "seconds": self.seconds,
            "dp": None if self.dp is None else dict(self.dp),
        }

    def __repr__(self) -> str:
        first = f"{self.losses[0]:.4g}" if self.losses else "-"
        extra = f", epsilon={self.dp['epsilon']:.3g}" if self.dp else ""
        return (
            f"TrainingHistory(epochs={self.epochs}, steps={self.steps}, loss {first} -> "
            f"{self.loss:.4g}{extra})"
        )


class TrainingMixin:
    """The training methods of :class:`~edgeml.runtime.EdgeModel`.

    They need a model from :func:`edgeml.conversion.to_trainable`; on any other model
    they raise :class:`~edgeml.errors.UnsupportedModelError`. The weights live in the
    interpreter: :meth:`EdgeModel.clone` and :func:`edgeml.load` start from the weights
    in the file, so copy trained weights with ``other.set_weights(model.get_weights())``
    or write them with :meth:`save`.
    """

    _interpreter: Any
    _lock: Any
    _metadata: dict[str, dict[str, Any]]
    _content: bytes
    path: str | None

    # -- what the model is --------------------------------------------------------------

    @property
    def trainable(self) -> bool:
        """Whether the model can train on the device (it came from ``to_trainable``)."""
        return TRAINING_ENTRY in self._metadata

    def _spec(self, owner: str) -> dict[str, Any]:
        spec = self._metadata.get(TRAINING_ENTRY)
        if spec is not None and not well_formed(spec):
            raise ModelFormatError(
                f"The model's {TRAINING_ENTRY!r} metadata document is malformed, so edgeml "
                "cannot tell how to train it. Fix: re-convert the model with "
                "edgeml.conversion.to_trainable."
            )
        if spec is None:
            raise UnsupportedModelError(
                f"EdgeModel.{owner} needs a trainable model; this one has only inference "
                "signatures. Fix: convert the Keras model with "
                "edgeml.conversion.to_trainable(model, loss=..., optimizer=...) and load that "
                "file."
            )
        return spec

    def _runner(self, name: str) -> Any:
        runners: dict[str, Any] | None = getattr(self, "_runners", None)
        if runners is None:
            runners = {}
            self._runners = runners
        runner = runners.get(name)
        if runner is None:
            try:
                runner = runners[name] = self._interpreter.get_signature_runner(name)
            except ValueError as exc:
                raise UnsupportedModelError(
                    f"The model has no {name!r} signature although its metadata says it is "
                    "trainable. Fix: re-convert it with edgeml.conversion.to_trainable."
                ) from exc
        return runner

    def _run(self, name: str, **inputs: NDArray[Any]) -> dict[str, NDArray[Any]]:
        runner = self._runner(name)
        try:
            outputs: dict[str, NDArray[Any]] = runner(**inputs)
        except (ValueError, RuntimeError) as exc:
            reason = str(exc).strip().rstrip(".")
            raise InferenceError(
                f"The interpreter failed while running signature {name!r}: {reason}. "
                "Fix: check the input shapes against EdgeModel.signatures."
            ) from exc
        return {k: np.array(v, copy=True) for k, v in outputs.items()}

    @property
    def weight_names(self) -> list[str]:
        """``layer/param`` of each array :meth:`get_weights` returns, in that order."""
        return [f"{w['layer']}/{w['param']}" for w in self._spec("weight_names")["weights"]]

    # -- weights ------------------------------------------------------------------------

    def get_weights(self) -> list[NDArray[np.float32]]:
        """Return the trained weights as float32 arrays, in a fixed order.

        The order is that of :attr:`weight_names` (layer by layer, kernel before
        bias), the same on every device, so a federated server can average them.

        Returns
        -------
        list of numpy.ndarray
            Copies; editing them does not change the model.

        Raises
        ------
        UnsupportedModelError
            When the model is not trainable.
        """
        spec = self._spec("get_weights")
        with self._lock:
            out = self._run("get_weights")
        return [out[w["name"]].astype(np.float32) for w in spec["weights"]]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace the trained weights (for example with a federated server's average).

        Parameters
        ----------
        weights : sequence of array_like
            One array per entry of :attr:`weight_names`, with the same shapes.

        Raises
        ------
        DataError
            When the count, a shape, or a value (NaN, infinite, not a number) is wrong;
            the message names the tensor. Nothing is changed then.
        UnsupportedModelError
            When the model is not trainable.
        """
        spec = self._spec("set_weights")
        wanted = spec["weights"]
        if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
            raise invalid_argument(
                "set_weights", "weights", type(weights).__name__, "a list of arrays"
            )
        if len(weights) != len(wanted):
            raise DataError(
                f"set_weights needs {len(wanted)} arrays ({self.weight_names}); got "
                f"{len(weights)}. Fix: pass the list get_weights() returns, in that order."
            )
        # The interpreter's own shapes: the metadata document is not covered by the hash.
        details = self._runner("set_weights").get_input_details()
        shapes = {name: [int(d) for d in v["shape"]] for name, v in details.items()}
        arrays = {}
        for w, value in zip(wanted, weights, strict=True):
            label = f"{w['name']} ({w['layer']}/{w['param']})"
            try:
                array = np.asarray(value, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise DataError(f"Weight {label} is not numeric ({exc}).") from exc
            if list(array.shape) != list(w["shape"]) or shapes.get(w["name"]) != list(array.shape):
                raise DataError(
                    f"Weight {label} must have shape {tuple(w['shape'])}; got "
                    f"{array.shape}. Fix: pass arrays from a model of the same architecture."
                )
            if not np.all(np.isfinite(array)):
                raise DataError(f"Weight {label} has NaN or infinite values.")
            arrays[w["name"]] = array
        with self._lock:
            self._run("set_weights", **arrays)

    def _state(self) -> dict[str, NDArray[Any]]:
        return self._run("get_state")

    def _restore(self, state: dict[str, NDArray[Any]]) -> None:
        self._run("set_state", **state)

    # -- training -----------------------------------------------------------------------

    def _step(self, x: NDArray[Any], y: NDArray[Any]) -> float:
        out = self._run("train", x=x, y=y)
        loss = float(out["loss"])
        if float(out["applied"]) != 1.0:
            raise InferenceError(
                f"The training step was not applied: the loss was {loss} or an updated weight "
                "was not finite, so every weight and optimizer slot was left as it was. "
                "Fix: lower the learning rate, or check the inputs and labels."
            )
        return loss

    def train_step(self, x: Any, y: Any) -> float:
        """Run one optimizer step on a batch, in the LiteRT interpreter.

        Parameters
        ----------
        x : array_like
            Inputs, shape ``(batch, *input_shape)``.
        y : array_like
            Labels: integer class indices for sparse categorical cross-entropy, else
            float targets shaped like the model's output.

        Returns
        -------
        float
            The batch's mean loss before the step.

        Raises
        ------
        DataError
            For inputs or labels of the wrong shape, dtype or range (the tensor is named).
        InferenceError
            When the step was refused because the loss or a new weight was not finite;
            the weights are unchanged.
        UnsupportedModelError
            When the model is not trainable.
        """
        spec = self._spec("train_step")
        xa, ya = check_xy("train_step", x, y, spec)
        with self._lock:
            snapshot = self._state()
            try:
                return self._step(xa, ya)
            except InferenceError:
                self._restore(snapshot)
                raise

    def fit(
        self,
        x: Any,
        y: Any,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        l2_norm_clip: float | None = None,
        noise_multiplier: float = 0.0,
        delta: float = 1e-5,
        ledger: Any = None,
    ) -> TrainingHistory:
        """Train on the device's data for some epochs.

        Parameters
        ----------
        x, y : array_like
            Inputs and labels (see :meth:`train_step`).
        epochs : int, default 1
            Passes over the data.
        batch_size : int, default 32
            Examples per step (with DP: the expected batch size of Poisson sampling).
        shuffle : bool, default True
            Shuffle the examples each epoch (without DP).
        seed : int, optional
            Seed of the shuffling or Poisson sampling. The DP noise always comes from the
            operating system's CSPRNG.
        l2_norm_clip : float, optional
            Turns on local differential privacy: each example's gradient is computed
            alone (microbatches of 1), clipped to this L2 norm, summed, noised with
            ``N(0, (noise_multiplier * l2_norm_clip)^2)`` and divided by ``batch_size``;
            batches are Poisson-sampled with rate ``batch_size / len(x)``, as
            :func:`edgeml.privacy.make_private` does, and accounted the same way.
        noise_multiplier : float, default 0.0
            Noise standard deviation over the clip norm (with ``l2_norm_clip``).
        delta : float, default 1e-5
            The delta at which epsilon is reported (with ``l2_norm_clip``).
        ledger : edgeml.privacy.accounting.Ledger, optional
            Where the DP run is recorded (its budget is checked first).

        Returns
        -------
        TrainingHistory
            Per-epoch and per-step losses, steps, number of examples, DP guarantee.

        Raises
        ------
        DataError, InferenceError, UnsupportedModelError
            As :meth:`train_step`. If a step fails, every variable is restored to its
            value before ``fit``.
        """
        spec = self._spec("fit")
        for name, value in (("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise invalid_argument("fit", name, value, "an integer >= 1")
        xa, ya = check_xy("fit", x, y, spec)
        n = xa.shape[0]
        rng = np.random.default_rng(seed)
        dp: dict[str, Any] | None = None
        if l2_norm_clip is not None:
            dp = self._dp_plan(n, epochs, batch_size, l2_norm_clip, noise_multiplier, delta)
            if ledger is not None:
                record(ledger, dp, dry_run=True)
        start = time.perf_counter()
        step_losses: list[float] = []
        epoch_losses: list[float] = []
        with self._lock:
            snapshot = self._state()
            try:
                for _ in range(epochs):
                    losses = (
                        self._dp_epoch(xa, ya, dp, rng)
                        if dp is not None
                        else self._epoch(xa, ya, batch_size, shuffle, rng)
                    )
                    step_losses += losses
                    epoch_losses.append(float(np.mean(losses)) if losses else math.nan)
            except BaseException:
                self._restore(snapshot)
                raise
        if dp is not None and ledger is not None:
            record(ledger, dp, dry_run=False)
        history = TrainingHistory(
            losses=tuple(epoch_losses),
            step_losses=tuple(step_losses),
            steps=len(step_losses),
            num_examples=n,
            epochs=epochs,
            seconds=round(time.perf_counter() - start, 6),
            dp=dp,
        )
        log: list[dict[str, Any]] = getattr(self, "_training_log", None) or []
        log.append({"epochs": epochs, "steps": history.steps, "examples": n, "dp": dp, "at": now()})
        self._training_log = log
        return history

    def _epoch(
        self,
        x: NDArray[Any],
        y: NDArray[Any],
        batch_size: int,
        shuffle: bool,
        rng: np.random.Generator,
    ) -> list[float]:
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        return [
            self._step(x[order[i : i + batch_size]], y[order[i : i + batch_size]])
            for i in range(0, len(x), batch_size)
        ]

    _dp_plan = staticmethod(dp_plan)

    def _dp_epoch(
        self, x: NDArray[Any], y: NDArray[Any], dp: dict[str, Any], rng: np.random.Generator
    ) -> list[float]:
        return dp_epoch(
            self._metadata[TRAINING_ENTRY],
            self._runner("gradients"),
            functools.partial(self._run, "apply"),
            x,
            y,
            dp,
            rng,
        )

    def evaluate(self, x: Any, y: Any, *, batch_size: int = 256) -> dict[str, float]:
        """Return the mean loss (and accuracy for classification) without training.

        Parameters
        ----------
        x, y : array_like
            Inputs and labels (see :meth:`train_step`).
        batch_size : int, default 256
            Examples per interpreter call.

        Returns
        -------
        dict
            ``loss``, ``num_examples``, and ``accuracy`` for a cross-entropy loss (the
            arg-max of the output against the class, or against 0.5 for binary).

        Raises
        ------
        DataError, UnsupportedModelError
            As :meth:`train_step`.
        """
        spec = self._spec("evaluate")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise invalid_argument("evaluate", "batch_size", batch_size, "an integer >= 1")
        xa, ya = check_xy("evaluate", x, y, spec)
        total = 0.0
        with self._lock:
            for i in range(0, len(xa), batch_size):
                out = self._run("gradients", x=xa[i : i + batch_size], y=ya[i : i + batch_size])
                total += float(out["loss"]) * len(xa[i : i + batch_size])
        result = {"loss": total / len(xa), "num_examples": float(len(xa))}
        if spec["loss"] != "mean_squared_error":
            predicted = np.asarray(self.predict(xa))  # type: ignore[attr-defined]
            if spec["loss"] == "binary_crossentropy":
                threshold = 0.0 if spec.get("output_is_logits") else 0.5
                hits = (predicted > threshold) == (ya > 0.5)
            else:
                truth = ya if ya.ndim == 1 else ya.argmax(axis=-1)
                hits = predicted.argmax(axis=-1) == truth
            result["accuracy"] = float(np.mean(hits))
        return result

    # -- saving ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model with its current (trained) weights, atomically.

        The variables' initial values inside the file are replaced by their current
        values (optimizer slots included), the weights hash is refreshed, and the
        ``on_device_training`` document, and the model card when there is one, record
        what was trained here: steps, examples, epochs, DP, and that the training data
        stayed on the device.

        Parameters
        ----------
        path : str or os.PathLike
            Destination ``.tflite`` file (its folder must exist).

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        UnsupportedModelError
            When the model is not trainable.
        """
        spec = self._spec("save")
        with self._lock:
            state = self._state()
        log = list(getattr(self, "_training_log", None) or [])
        return atomic_write(path, trained_content(self._content, spec, state, log))
