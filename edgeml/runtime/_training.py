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

import copy
import datetime as _dt
import itertools
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
from edgeml._optional import require
from edgeml.card import embed_card, read_card
from edgeml.errors import (
    DataError,
    InferenceError,
    ModelFormatError,
    UnsupportedModelError,
    invalid_argument,
)
from edgeml.modelfile import with_edgeml_entry, with_metadata

__all__ = ["TrainingHistory", "TrainingMixin", "secure_normal"]

TRAINING_ENTRY = "on_device_training"  # = edgeml.conversion.trainable.TRAINING_ENTRY


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


def secure_normal(size: int) -> NDArray[np.float64]:
    """Draw standard normal samples from the operating system's CSPRNG (Box-Muller).

    Parameters
    ----------
    size : int
        How many samples.

    Returns
    -------
    numpy.ndarray
        float64 samples.

    Examples
    --------
    >>> z = secure_normal(20000)
    >>> abs(float(z.mean())) < 0.05 and abs(float(z.std()) - 1) < 0.05
    True
    """
    pairs = (size + 1) // 2
    raw = np.frombuffer(os.urandom(16 * pairs), dtype=np.uint64).reshape(2, pairs)
    # 53 random bits -> a float in (0, 1]; never 0, so the log is finite.
    u1 = ((raw[0] >> np.uint64(11)).astype(np.float64) + 1.0) / 2.0**53
    u2 = (raw[1] >> np.uint64(11)).astype(np.float64) / 2.0**53
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])[:size]


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
        if spec is not None and not _well_formed(spec):
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

    # -- inputs ---------------------------------------------------------------------------

    def _check_xy(
        self, owner: str, x: Any, y: Any, spec: dict[str, Any]
    ) -> tuple[NDArray[np.float32], NDArray[Any]]:
        tail = tuple(int(d) for d in spec["input_shape"][1:])
        try:
            xa = np.asarray(x, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise DataError(f"Input 'x' of {owner} is not numeric ({exc}).") from exc
        if xa.shape[1:] != tail or xa.ndim != len(tail) + 1 or xa.shape[0] < 1:
            raise DataError(
                f"Input 'x' of {owner} must have shape (batch, {', '.join(map(str, tail))}) "
                f"with batch >= 1; got {xa.shape}."
            )
        if not np.all(np.isfinite(xa)):
            raise DataError(f"Input 'x' of {owner} has NaN or infinite values.")
        label = spec["label"]
        y_raw = np.asarray(y)
        n = xa.shape[0]
        if label["dtype"] == "int32":
            if y_raw.ndim == 2 and y_raw.shape[1] == 1:
                y_raw = y_raw[:, 0]
            if y_raw.dtype.kind not in "iu":
                raise DataError(
                    f"Label 'y' of {owner} must hold integer class indices for loss "
                    f"{spec['loss']!r}; got dtype {y_raw.dtype}. Fix: pass y.astype(int), or "
                    "convert with loss='categorical_crossentropy' for one-hot labels."
                )
            if y_raw.shape != (n,):
                raise DataError(
                    f"Label 'y' of {owner} must have shape ({n},), one class index per "
                    f"example; got {y_raw.shape}."
                )
            classes = int(label["classes"])
            if y_raw.size and (y_raw.min() < 0 or y_raw.max() >= classes):
                raise DataError(
                    f"Label 'y' of {owner} must be class indices in [0, {classes}); got values "
                    f"from {y_raw.min()} to {y_raw.max()}."
                )
            return xa, y_raw.astype(np.int32)
        y_tail = tuple(int(d) for d in label["shape"][1:])
        if y_raw.dtype.kind not in "fiub":
            raise DataError(
                f"Label 'y' of {owner} must be numeric for loss {spec['loss']!r}; got dtype "
                f"{y_raw.dtype}."
            )
        ya = y_raw.astype(np.float32)
        if ya.shape != (n, *y_tail) and ya.shape == (n,) and y_tail == (1,):
            ya = ya[:, None]
        if ya.shape != (n, *y_tail):
            raise DataError(
                f"Label 'y' of {owner} must have shape {(n, *y_tail)} for loss "
                f"{spec['loss']!r}; got {y_raw.shape}."
            )
        if not np.all(np.isfinite(ya)):
            raise DataError(f"Label 'y' of {owner} has NaN or infinite values.")
        return xa, ya

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
        xa, ya = self._check_xy("train_step", x, y, spec)
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
        xa, ya = self._check_xy("fit", x, y, spec)
        n = xa.shape[0]
        rng = np.random.default_rng(seed)
        dp: dict[str, Any] | None = None
        if l2_norm_clip is not None:
            dp = self._dp_plan(n, epochs, batch_size, l2_norm_clip, noise_multiplier, delta)
            if ledger is not None:
                _record(ledger, dp, dry_run=True)
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
            _record(ledger, dp, dry_run=False)
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
        log.append(
            {"epochs": epochs, "steps": history.steps, "examples": n, "dp": dp, "at": _now()}
        )
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

    def _dp_plan(
        self, n: int, epochs: int, batch_size: int, clip: Any, sigma: Any, delta: float
    ) -> dict[str, Any]:
        if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip > 0:
            raise invalid_argument("fit", "l2_norm_clip", clip, "a float > 0")
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or sigma < 0:
            raise invalid_argument("fit", "noise_multiplier", sigma, "a float >= 0")
        if batch_size > n:
            raise invalid_argument(
                "fit", "batch_size", batch_size, f"at most the {n} examples given"
            )
        rate = batch_size / n
        steps_per_epoch = max(1, round(1 / rate))
        # The privacy layer (and dp-accounting) load only when DP is asked for.
        from edgeml.privacy.accounting import epsilon

        steps = steps_per_epoch * epochs
        spent = (
            math.inf
            if sigma == 0
            else epsilon(
                noise_multiplier=float(sigma), sampling_rate=rate, steps=steps, delta=delta
            )
        )
        return {
            "l2_norm_clip": float(clip),
            "noise_multiplier": float(sigma),
            "sampling_rate": rate,
            "steps": steps,
            "steps_per_epoch": steps_per_epoch,
            "expected_batch_size": float(batch_size),
            "delta": float(delta),
            "epsilon": spent,
            "accountant": "rdp",
            "noise": "os.urandom (CSPRNG), Box-Muller",
        }

    def _dp_epoch(
        self, x: NDArray[Any], y: NDArray[Any], dp: dict[str, Any], rng: np.random.Generator
    ) -> list[float]:
        spec = self._metadata[TRAINING_ENTRY]
        names = [w["name"].replace("w", "g", 1) for w in spec["weights"]]
        shapes = [tuple(w["shape"]) for w in spec["weights"]]
        sizes = [math.prod(shape) for shape in shapes]
        starts = [0, *itertools.accumulate(sizes)]
        clip, sigma = dp["l2_norm_clip"], dp["noise_multiplier"]
        runner = self._runner("gradients")
        losses = []
        for _ in range(dp["steps_per_epoch"]):
            chosen = np.flatnonzero(rng.random(len(x)) < dp["sampling_rate"])
            # One row per example: its gradient, flattened (microbatches of 1).
            rows = np.zeros((len(chosen), sum(sizes)), dtype=np.float64)
            batch_loss = 0.0
            for row, i in enumerate(chosen):
                try:
                    out = runner(x=x[i : i + 1], y=y[i : i + 1])
                except (ValueError, RuntimeError) as exc:
                    raise InferenceError(
                        f"The interpreter failed while computing a per-example gradient: "
                        f"{exc}. Fix: check the inputs."
                    ) from exc
                rows[row] = np.concatenate([out[name].ravel() for name in names])
                batch_loss += float(out["loss"])
            norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
            factors = np.minimum(1.0, clip / np.maximum(norms, 1e-300))
            total = factors @ rows if len(chosen) else np.zeros(sum(sizes))
            total += secure_normal(total.size) * (sigma * clip)
            total /= dp["expected_batch_size"]
            noisy = {
                name: total[start:stop].reshape(shape).astype(np.float32)
                for name, start, stop, shape in zip(
                    names, starts[:-1], starts[1:], shapes, strict=True
                )
            }
            applied = self._run("apply", **noisy)
            if float(applied["applied"]) != 1.0:
                raise InferenceError(
                    "A private training step was not applied: an updated weight was not "
                    "finite. Fix: lower the learning rate or the noise."
                )
            losses.append(batch_loss / max(1, len(chosen)))
        return losses

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
        xa, ya = self._check_xy("evaluate", x, y, spec)
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
        content = _patch_initial_values(self._content, state)
        log = list(getattr(self, "_training_log", None) or [])
        record = {
            "trained_on_device": True,
            "data_left_device": False,
            "trained_layers": spec["trained_layers"],
            "sessions": len(log),
            "steps": sum(int(r["steps"]) for r in log),
            "examples": [int(r["examples"]) for r in log],
            "local_dp": [r["dp"] for r in log if r["dp"]],
            "saved": _now(),
        }
        updated = copy.deepcopy(spec)
        updated["history"] = [*spec.get("history", []), record]
        content = with_metadata(content, TRAINING_ENTRY, updated)
        card = read_card(content)
        if card is not None:
            extra = {**dict(card.extra or {}), "on_device_training": updated["history"]}
            content = embed_card(content, card.replace(extra=extra))
        content = with_edgeml_entry(content)
        return atomic_write(path, content)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _record(ledger: Any, dp: dict[str, Any], *, dry_run: bool) -> None:
    # The privacy layer (and dp-accounting) load only when DP is asked for.
    from edgeml.privacy.accounting import Ledger

    if not isinstance(ledger, Ledger):
        raise invalid_argument("fit", "ledger", ledger, "an edgeml.privacy.accounting.Ledger")
    target = Ledger.from_dict(ledger.to_dict()) if dry_run else ledger
    target.record(
        name="on-device DP-SGD",
        noise_multiplier=dp["noise_multiplier"],
        sampling_rate=dp["sampling_rate"],
        steps=dp["steps"],
    )


def _well_formed(spec: Any) -> bool:
    """Check the fields of the training document that the runtime relies on."""
    try:
        label = spec["label"]
        weights = spec["weights"]
        return (
            isinstance(spec["loss"], str)
            and label["dtype"] in ("int32", "float32")
            and (label["dtype"] == "float32" or int(label["classes"]) >= 1)
            and all(isinstance(d, int) for d in spec["input_shape"][1:])
            and all(isinstance(d, int) for d in label["shape"][1:])
            and isinstance(spec["trained_layers"], list)
            and all(
                isinstance(w["name"], str)
                and w["name"].startswith("w")
                and all(isinstance(d, int) for d in w["shape"])
                for w in weights
            )
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return False


def _patch_initial_values(content: bytes, state: dict[str, NDArray[Any]]) -> bytes:
    try:
        return _patch(content, state)
    except (UnsupportedModelError, ModelFormatError):
        raise
    except Exception as exc:
        raise ModelFormatError(
            f"Cannot save: the model's structure is not what to_trainable writes "
            f"({type(exc).__name__}: {exc}). Fix: re-convert it with "
            "edgeml.conversion.to_trainable."
        ) from exc


def _patch(content: bytes, state: dict[str, NDArray[Any]]) -> bytes:
    """Return the model with each variable's initializer constant set to ``state``.

    ``get_state`` output ``sNNN`` is READ_VARIABLE of a VAR_HANDLE with some shared
    name; the initializer subgraph assigns that name a constant, whose buffer is
    rewritten (a buffer shared with other tensors gets a copy first).
    """
    utils = require(
        "ai_edge_litert.tools.flatbuffer_utils", extra="litert", feature="Saving a trained model"
    )
    model = utils.convert_bytearray_to_object(bytearray(content))
    ops = dict(vars(utils.schema_fb.BuiltinOperator))

    def handles(subgraph: Any) -> dict[int, str]:
        names = {}
        for op in subgraph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) == ops["VAR_HANDLE"]:
                shared = op.builtinOptions.sharedName
                names[op.outputs[0]] = shared.decode() if isinstance(shared, bytes) else shared
        return names

    def is_op(op: Any, name: str) -> bool:
        code = model.operatorCodes[op.opcodeIndex]
        return bool(max(code.builtinCode, code.deprecatedBuiltinCode) == ops[name])

    signature = next(s for s in model.signatureDefs if _text(s.signatureKey) == "get_state")
    reader = model.subgraphs[signature.subgraphIndex]
    reader_handles = handles(reader)
    produced = {}
    for op in reader.operators or []:
        if is_op(op, "READ_VARIABLE"):
            produced[op.outputs[0]] = reader_handles[op.inputs[0]]
    by_shared = {}
    for out in signature.outputs:
        by_shared[produced[out.tensorIndex]] = state[_text(out.name)]
    uses: dict[int, int] = {}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors or []:
            uses[tensor.buffer] = uses.get(tensor.buffer, 0) + 1
    patched = set()
    for subgraph in model.subgraphs:
        init_handles = handles(subgraph)
        for op in subgraph.operators or []:
            if not is_op(op, "ASSIGN_VARIABLE"):
                continue
            shared = init_handles.get(op.inputs[0])
            tensor = subgraph.tensors[op.inputs[1]]
            if shared not in by_shared or not tensor.buffer:
                continue
            value = np.ascontiguousarray(by_shared[shared], dtype=np.float32)
            if uses.get(tensor.buffer, 0) > 1:
                buffer = utils.schema_fb.BufferT()
                model.buffers.append(buffer)
                tensor.buffer = len(model.buffers) - 1
            model.buffers[tensor.buffer].data = np.frombuffer(value.tobytes(), dtype=np.uint8)
            patched.add(shared)
    missing = sorted(set(by_shared) - patched)
    if missing:
        raise UnsupportedModelError(
            f"Cannot save: no initial value of variables {missing} was found in the file. "
            "Fix: re-convert the model with edgeml.conversion.to_trainable."
        )
    return bytes(utils.convert_object_to_bytearray(model))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
