"""The private ``fit``: Poisson-sampled batches, the budget stop and the ledger record."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeml._optional import require
from edgeml.errors import ConfigError, DataError, PrivacyBudgetExceeded, invalid_argument
from edgeml.privacy import _ghost
from edgeml.privacy._budget import _ledger_steps
from edgeml.privacy._keras import KerasFlavor, per_example_loss
from edgeml.privacy._sampling import _NUM_EXAMPLES_ATTR, _SAMPLING_RATE_ATTR, poisson_batches
from edgeml.privacy._state import PrivacyState

tf = require("tensorflow", extra="tf", feature="DP-SGD (edgeml.privacy.make_private)")

logger = logging.getLogger("edgeml.privacy")


def _budget_callback(state: PrivacyState, flavor: KerasFlavor, stop_at: int | None) -> Any:
    """Build the Keras callback that stops training at the privacy budget.

    ``make_private``'s ``fit`` adds it automatically. After each step it compares the
    steps taken with the most the budget allows and sets ``model.stop_training``; at the
    end of ``fit`` it records the run in ``state.ledger`` and logs what was spent.

    Parameters
    ----------
    state : PrivacyState
        The model's privacy state (``model.privacy``).
    flavor : KerasFlavor
        The model's Keras (the callback must derive from its ``Callback``).
    stop_at : int or None
        The step count (``state.steps``) at which to stop; ``None`` for no limit.

    Returns
    -------
    keras.callbacks.Callback
    """
    base = flavor.module.callbacks.Callback

    class _Budget(base):  # type: ignore[misc, valid-type]
        def on_train_begin(self, logs: Any = None) -> None:
            self._start = state.steps
            self._announced = False
            params = getattr(self, "params", None) or {}
            epochs, steps = params.get("epochs"), params.get("steps")
            # The step count at which this fit ends by itself, when Keras knows it.
            self._planned_end = self._start + epochs * steps if epochs and steps else None

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if stop_at is not None and state.steps >= stop_at:
                self.model.stop_training = True
                if not self._announced:
                    self._announced = True
                    if self._planned_end is not None and state.steps >= self._planned_end:
                        logger.info(
                            "Training finished as planned after %d DP-SGD steps, the most "
                            "the privacy budget allows (target_epsilon %s, at delta %g).",
                            state.steps,
                            state.target_epsilon,
                            state.delta,
                        )
                        return
                    planned = "" if self._planned_end is None else f" of {self._planned_end}"
                    logger.warning(
                        "Stopping training early: %d%s planned DP-SGD steps reach the "
                        "privacy budget (target_epsilon %s, ledger budget %s, at delta %g); "
                        "another step would exceed it.",
                        state.steps,
                        planned,
                        state.target_epsilon,
                        state.ledger.budget,
                        state.delta,
                    )

        def on_train_end(self, logs: Any = None) -> None:
            done = state.steps - self._start
            if done > 0:
                state.ledger.record(
                    name=f"dp-sgd fit {state._fits}",
                    noise_multiplier=state.noise_multiplier,
                    sampling_rate=state.sampling_rate,
                    steps=done,
                    noise_seeded=state.noise_seeded,
                )
            logger.info("DP-SGD: %s", state.spent().statement())

    return _Budget()


def _refuse_train_on_batch(*args: Any, **kwargs: Any) -> Any:
    """Stand in for ``train_on_batch``, which would bypass what keeps the promise."""
    raise ConfigError(
        "train_on_batch on a private model would skip Poisson sampling, the stop at the "
        "privacy budget and the ledger record, so the stated epsilon would not hold. Fix: "
        "train with model.fit (pass steps_per_epoch= to run a few steps at a time)."
    )


def _class_weights(y: Any, class_weight: Any, sample_weight: Any) -> Any:
    """Turn ``class_weight`` into per-example weights (times ``sample_weight``), as Keras.

    One-hot labels (last axis > 1) are read with argmax, others as integer classes.
    """
    labels = np.asarray(y)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = np.argmax(labels, axis=-1)
    labels = np.rint(labels.reshape(len(labels), -1)[:, 0]).astype(np.int64)
    try:
        weights = np.array([float(class_weight[int(c)]) for c in labels], dtype=np.float32)
    except KeyError as exc:
        raise invalid_argument(
            "fit",
            "class_weight",
            class_weight,
            f"a weight for every class in y (class {exc.args[0]} has none)",
        ) from exc
    if sample_weight is not None:
        weights = weights * np.asarray(sample_weight, dtype=np.float32).reshape(len(weights))
    return weights


def _steps_per_execution(model: Any) -> int:
    """Return the steps one compiled train call runs (Keras 3: an int; Keras 2: a variable)."""
    value = getattr(model, "steps_per_execution", None)
    return 1 if value is None else int(np.asarray(value))


def _make_fit(model: Any, state: PrivacyState, flavor: KerasFlavor) -> Any:
    original_fit = model.fit

    def fit(
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        *,
        callbacks: Sequence[Any] | None = None,
        sample_weight: Any = None,
        steps_per_epoch: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Train with DP-SGD (Poisson-sampled batches unless ``sampling='shuffle'``)."""
        if state.max_steps is not None and state.steps >= state.max_steps:
            raise PrivacyBudgetExceeded(
                f"The privacy budget is spent: {state.steps} steps reach epsilon "
                f"{state.spent().epsilon:.4g} of the target {state.target_epsilon:g}. "
                "Training more would break the promise."
            )
        stop_at = state.max_steps
        if state._shared_ledger and state.ledger.budget is not None:
            # Other releases share the ledger's budget: stop where it would be exceeded,
            # since a run the ledger refuses to record would go unaccounted.
            affordable = _ledger_steps(state)
            if affordable == 0:
                raise PrivacyBudgetExceeded(
                    f"The shared ledger's budget of {state.ledger.budget:g} does not allow "
                    f"even one more step (it has spent {state.ledger.spent().epsilon:.4g})."
                )
            ledger_stop = state.steps + affordable
            stop_at = ledger_stop if stop_at is None else min(stop_at, ledger_stop)
        per_example_loss(model, flavor)  # refuse a missing or multi-output loss before tracing
        steps_per_execution = _steps_per_execution(model)
        if stop_at is not None and steps_per_execution > 1:
            raise ConfigError(
                f"compile(steps_per_execution={steps_per_execution}) runs "
                f"{steps_per_execution} DP-SGD steps between the checks that stop training "
                "at the privacy budget, so the spent epsilon could exceed target_epsilon. "
                "Fix: compile with steps_per_execution=1 (the default)."
            )
        if kwargs.get("validation_split"):
            raise ConfigError(
                "fit(validation_split=...) would hold out part of the examples that "
                "make_private accounts for (num_examples). Fix: split the data yourself, "
                "call make_private with the training part's size, and pass "
                "validation_data=(x_val, y_val)."
            )
        if batch_size is not None and batch_size != state.batch_size:
            raise invalid_argument(
                "fit",
                "batch_size",
                batch_size,
                f"None or the batch_size given to make_private ({state.batch_size})",
                fix="leave it out",
            )
        if isinstance(x, tf.data.Dataset):
            if state.sampling == "shuffle":
                raise ConfigError(
                    "fit got a tf.data.Dataset under sampling='shuffle'. Its batch size and "
                    "its rows (repeated or duplicated examples) cannot be checked, so the "
                    f"sampling rate charged (batch_size / num_examples = "
                    f"{state.sampling_rate:.6g}) could be far below what the dataset "
                    "really does. Fix: pass the training arrays x and y (fit shuffles and "
                    f"batches them at batch_size={state.batch_size} itself), or use "
                    "sampling='poisson' with edgeml.privacy.poisson_batches(...)."
                )
            rate = getattr(x, _SAMPLING_RATE_ATTR, None)
            if rate is None:
                raise ConfigError(
                    "fit got a tf.data.Dataset that is not Poisson-sampled, but the privacy "
                    "accounting assumes Poisson sampling. Fix: pass arrays (fit samples "
                    "them itself), or edgeml.privacy.poisson_batches(x, y, sampling_rate="
                    f"{state.sampling_rate:.6g}), or make_private(..., sampling='shuffle') "
                    "and pass arrays to knowingly train on shuffled batches."
                )
            if not math.isclose(rate, state.sampling_rate):
                raise ConfigError(
                    f"The dataset is Poisson-sampled at rate {rate:g}, but make_private was "
                    f"set up for {state.sampling_rate:g} (batch_size / num_examples)."
                )
            sampled_from = getattr(x, _NUM_EXAMPLES_ATTR, None)
            if sampled_from != state.num_examples:
                raise DataError(
                    f"The dataset is Poisson-sampled from {sampled_from} examples but "
                    f"make_private was told num_examples={state.num_examples}; the "
                    "accounting would be wrong. Fix: sample the whole training set."
                )
            steps_per_epoch = steps_per_epoch or state.steps_per_epoch
            kwargs["shuffle"] = False
        elif x is not None:
            if not hasattr(x, "shape") or not hasattr(x, "__len__"):
                raise ConfigError(
                    f"fit got x of type {type(x).__name__}, whose number of examples and "
                    "batching edgeml cannot check, so the privacy accounting could not be "
                    "trusted. Fix: pass x and y as arrays (numpy or tf.Tensor), or a "
                    "dataset from edgeml.privacy.poisson_batches(...)."
                )
            n = len(x)
            if y is not None and n:
                # Fail here, in plain Python, rather than deep inside a traced step.
                _ghost.per_example_values(per_example_loss(model, flavor)(y[:2], model(x[:2])))
            if n != state.num_examples:
                raise DataError(
                    f"fit got {n} examples but make_private was told num_examples="
                    f"{state.num_examples}; the accounting would be wrong. Fix: pass the "
                    "same training set."
                )
            if y is None:
                raise DataError("fit needs labels y with the examples x.")
            class_weight = kwargs.pop("class_weight", None)
            if class_weight is not None:
                sample_weight = _class_weights(y, class_weight, sample_weight)
            if state.sampling == "poisson":
                x = poisson_batches(
                    x,
                    y,
                    sampling_rate=state.sampling_rate,
                    seed=state._next_seed(),
                    sample_weight=sample_weight,
                )
                y = sample_weight = None
                steps_per_epoch = steps_per_epoch or state.steps_per_epoch
                kwargs["shuffle"] = False  # the batches are already random
            else:
                if kwargs.get("shuffle", True) is not True and state.batch_size < n:
                    raise ConfigError(
                        "fit(shuffle=False) under sampling='shuffle' would train on the "
                        "same fixed batches every epoch, which nothing in the accounting "
                        "covers. Fix: leave shuffle at its default (True)."
                    )
                batch_size = state.batch_size
        if flavor.is_keras3 and getattr(model, "jit_compile", False):
            # Poisson batches vary in size; XLA would recompile the step for each size.
            model.jit_compile = False
            model.train_function = None
        budget = _budget_callback(state, flavor, stop_at)
        return original_fit(
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            callbacks=[*(callbacks or []), budget],
            sample_weight=sample_weight,
            steps_per_epoch=steps_per_epoch,
            **kwargs,
        )

    return fit
