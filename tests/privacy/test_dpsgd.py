"""DP-SGD for Keras: ghost norms, clipping, noise, Poisson sampling, budget, validation.

Reference values are computed independently in each test: per-example gradients with a
Python loop of tf.GradientTape over single examples, plain gradients with one tape over
the batch, noise statistics against sigma * C / batch.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

tf = pytest.importorskip("tensorflow")

from edgeml.errors import (  # noqa: E402
    ConfigError,
    DataError,
    PrivacyBudgetExceeded,
    UnsupportedModelError,
)
from edgeml.privacy import _ghost, _keras, epsilon  # noqa: E402
from edgeml.privacy._budget import _max_steps_within  # noqa: E402
from edgeml.privacy._noise import NoiseSource  # noqa: E402
from edgeml.privacy._step import _noisy_average  # noqa: E402
from edgeml.privacy._validation import _adapted_statistics  # noqa: E402
from edgeml.privacy.dpsgd import make_private, poisson_batches, validate_model  # noqa: E402

pytestmark = [pytest.mark.tf, pytest.mark.compat]


def _keras_modules() -> list[str]:
    names = ["keras"]
    if int(tf.__version__.split(".")[1]) >= 16:  # tf-keras next to Keras 3
        names.append("tf_keras")
    return names


@pytest.fixture(params=_keras_modules())
def K(request):
    return pytest.importorskip(request.param)


def _logits_loss(K, reduction="none"):
    return K.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)


def _explicit_per_example(model, loss_fn, x, y):
    """Per-example gradients, one tape per example (the slow, obvious way)."""
    grads = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(loss_fn(y[i : i + 1], model(x[i : i + 1], training=True)))
        grads.append(
            [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_weights)]
        )
    return grads


def _norms(per_example):
    return np.array([np.sqrt(sum(float(np.sum(g**2)) for g in grads)) for grads in per_example])


def _private(model, **kwargs):
    """``make_private`` with the arguments most tests share (clip 1, sigma 1, seeded)."""
    defaults = {"noise_multiplier": 1.0, "l2_norm_clip": 1.0, "delta": 1e-3, "seed": 0}
    return make_private(model, **{**defaults, **kwargs})


def _nested_model(K):
    inner = K.Sequential([K.Input((6,)), K.layers.Dense(4, activation="relu")])
    inputs = K.Input((6,))
    return K.Model(inputs, K.layers.Dense(3)(inner(inputs)))


def _models(K):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 5)
    return {
        "dense": (
            K.Sequential([K.Input((6,)), K.layers.Dense(4, activation="tanh"), K.layers.Dense(3)]),
            rng.normal(size=(5, 6)).astype("float32"),
            y,
        ),
        "dense-3d": (
            K.Sequential(
                [
                    K.Input((3, 20)),
                    K.layers.Dense(30, activation="relu"),  # T(d + p) < d p: Gram form
                    K.layers.Dense(4),  # T(d + p) > d p: materialised a_i^T g_i
                    K.layers.Flatten(),
                    K.layers.Dense(3),
                ]
            ),
            rng.normal(size=(5, 3, 20)).astype("float32"),
            y,
        ),
        "conv": (
            K.Sequential(
                [
                    K.Input((14, 14, 2)),
                    K.layers.Conv2D(4, 3, activation="relu"),
                    K.layers.Conv2D(12, 3, strides=2, padding="same"),
                    K.layers.Conv2D(8, (2, 3), dilation_rate=(2, 1)),
                    K.layers.Conv2D(16, 3),  # 2x2 output, many channels: Gram form
                    K.layers.Flatten(),
                    K.layers.Dense(3),
                ]
            ),
            rng.normal(size=(5, 14, 14, 2)).astype("float32"),
            y,
        ),
        "conv1d": (
            K.Sequential(
                [
                    K.Input((12, 3)),
                    K.layers.Conv1D(5, 3, activation="relu"),
                    K.layers.Conv1D(4, 2, strides=2, padding="same", dilation_rate=1),
                    K.layers.Conv1D(6, 3, dilation_rate=2),
                    K.layers.Flatten(),
                    K.layers.Dense(3),
                ]
            ),
            rng.normal(size=(5, 12, 3)).astype("float32"),
            y,
        ),
        "nested": (
            _nested_model(K),
            rng.normal(size=(5, 6)).astype("float32"),
            y,
        ),
        "embedding+layernorm": (
            K.Sequential(
                [
                    K.Input((6,)),
                    K.layers.Embedding(4, 3),  # few ids: repeats within an example
                    K.layers.LayerNormalization(),  # no ghost rule: vectorized fallback
                    K.layers.Flatten(),
                    K.layers.Dense(3),
                ]
            ),
            rng.integers(0, 4, size=(5, 6)),
            y,
        ),
    }


@pytest.mark.parametrize(
    "kind", ["dense", "dense-3d", "conv", "conv1d", "nested", "embedding+layernorm"]
)
def test_ghost_norms_equal_explicit_per_example_norms(K, kind) -> None:
    model, x, y = _models(K)[kind]
    loss_fn = _logits_loss(K)
    flavor = _keras.flavor_of(model)
    plans = _ghost.plan_layers(model)
    result = _ghost.clipped_gradient_sum(model, plans, flavor, loss_fn, x, y, l2_norm_clip=1e9)
    expected = _norms(_explicit_per_example(model, loss_fn, x, y))
    np.testing.assert_allclose(result.norms.numpy(), expected, rtol=1e-5)
    chunked = _ghost.clipped_gradient_sum(
        model, plans, flavor, loss_fn, x, y, l2_norm_clip=1e9, chunk_size=2
    )
    np.testing.assert_allclose(chunked.norms.numpy(), expected, rtol=1e-5)


def test_layers_get_the_intended_norm_rule(K) -> None:
    kinds = {
        name: [p.kind.value for p in _ghost.plan_layers(model)]
        for name, (model, _, _) in _models(K).items()
    }
    assert kinds["conv"] == ["conv2d", "conv2d", "conv2d", "conv2d", "dense"]
    assert kinds["conv1d"] == ["conv1d", "conv1d", "conv1d", "dense"]
    assert kinds["embedding+layernorm"] == ["embedding", "vectorized", "dense"]


def test_clipped_sum_equals_sum_of_explicitly_clipped_gradients(K) -> None:
    model, x, y = _models(K)["conv"]
    loss_fn = _logits_loss(K)
    per_example = _explicit_per_example(model, loss_fn, x, y)
    norms = _norms(per_example)
    clip = float(np.median(norms))  # some examples clipped, some not
    expected = [
        sum(g[j] * min(1.0, clip / n) for g, n in zip(per_example, norms, strict=True))
        for j in range(len(model.trainable_weights))
    ]
    result = _ghost.clipped_gradient_sum(
        model,
        _ghost.plan_layers(model),
        _keras.flavor_of(model),
        loss_fn,
        x,
        y,
        l2_norm_clip=clip,
    )
    for got, want in zip(result.gradients, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("regularized", [False, True])
def test_huge_clip_and_no_noise_is_plain_averaged_gradient_descent(K, regularized) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = rng.integers(0, 3, 16)
    reg = K.regularizers.L2(0.01) if regularized else None
    model = K.Sequential(
        [
            K.Input((6,)),
            K.layers.Dense(5, activation="relu", kernel_regularizer=reg),
            K.layers.Dense(3),
        ]
    )
    before = [w.numpy().copy() for w in model.trainable_weights]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(_logits_loss(K)(y, model(x, training=True)))
        if regularized:
            loss += tf.add_n(model.losses)
    plain = [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]
    _private(
        model,
        noise_multiplier=0.0,
        l2_norm_clip=1e6,
        num_examples=16,
        batch_size=16,
        sampling="shuffle",
    )
    model.compile(optimizer=K.optimizers.SGD(1.0), loss=_logits_loss(K))
    model.fit(x, y, epochs=1, verbose=0)
    for w, b, g in zip(model.trainable_weights, before, plain, strict=True):
        np.testing.assert_allclose(b - w.numpy(), g, rtol=1e-4, atol=1e-6)
    assert model.privacy.steps == 1
    assert model.privacy.spent().sampling == "shuffle"
    assert "not differentially private" in model.privacy.spent().statement()  # noise 0


def test_noise_standard_deviation_is_sigma_clip_over_batch() -> None:
    zeros = [tf.zeros([200, 500])]
    (noisy,) = _noisy_average(
        zeros,
        l2_norm_clip=2.0,
        noise_multiplier=1.5,
        expected_batch_size=40.0,
        source=NoiseSource(insecure_seed=7),
    )
    values = noisy.numpy().ravel()
    expected = 1.5 * 2.0 / 40.0
    # 100000 draws: the sample std is within 1 % of the truth with overwhelming probability.
    assert np.std(values) == pytest.approx(expected, rel=0.01)
    assert abs(np.mean(values)) < 5 * expected / np.sqrt(values.size)
    # And it is Gaussian (edgeml draws it with its own Box-Muller transform): scipy's
    # Kolmogorov-Smirnov test against N(0, expected^2), and the 3-sigma tail mass 0.0027.
    from scipy import stats

    assert stats.kstest(values, "norm", args=(0.0, expected)).pvalue > 1e-3
    assert np.mean(np.abs(values) > 3 * expected) == pytest.approx(0.0027, abs=0.0006)
    # Box-Muller gives pairs (r cos t, r sin t) laid out as the two halves of the draw; the
    # two values of a pair must be independent (a reused angle or radius leaves the
    # marginal Gaussian but correlates them). Zero correlation, also of the squares, within
    # 5 standard errors (1 / sqrt(50000)).
    first, second = np.split(values.astype(np.float64), 2)
    assert abs(np.corrcoef(first, second)[0, 1]) < 5 / np.sqrt(first.size)
    assert abs(np.corrcoef(first**2, second**2)[0, 1]) < 5 / np.sqrt(first.size)


def test_noise_for_odd_sized_weights_has_the_right_shapes() -> None:
    grads = [tf.zeros([3, 5]), tf.zeros([7])]
    noisy = _noisy_average(
        grads,
        l2_norm_clip=1.0,
        noise_multiplier=1.0,
        expected_batch_size=1.0,
        source=NoiseSource(),
    )
    assert [n.shape.as_list() for n in noisy] == [[3, 5], [7]]
    assert all(np.all(n.numpy() != 0) for n in noisy)


def test_poisson_batches_have_binomial_sizes_and_are_seeded() -> None:
    x = np.arange(2000, dtype="float32")[:, None]
    y = np.zeros(2000)
    sizes = [
        int(b[0].shape[0]) for b in poisson_batches(x, y, sampling_rate=0.05, seed=3, steps=200)
    ]
    # Binomial(2000, 0.05): mean 100, std 9.75; the mean of 200 draws is within 3 sd/sqrt(200).
    assert abs(np.mean(sizes) - 100) < 3 * 9.75 / np.sqrt(200)
    assert np.std(sizes) == pytest.approx(9.75, rel=0.2)
    again = [
        int(b[0].shape[0]) for b in poisson_batches(x, y, sampling_rate=0.05, seed=3, steps=200)
    ]
    assert sizes == again
    first = next(iter(poisson_batches(x, y, sampling_rate=0.05, seed=3, steps=1)))[0].numpy()
    assert len(np.unique(first)) == len(first)  # without replacement within a batch
    with pytest.raises(DataError, match="rows but x has"):
        poisson_batches(x, y[:5], sampling_rate=0.1)


def test_poisson_batches_include_each_example_independently() -> None:
    # 50 examples, q = 0.2, 400 steps. Independence per example and per step means: each
    # example's inclusion count is Binomial(400, 0.2) (mean 80, variance 64), and two
    # examples (neighbours included) are in the same batch with probability q^2 = 0.04.
    n, q, steps = 50, 0.2, 400
    x = np.arange(n, dtype="float32")[:, None]
    member = np.zeros((steps, n), bool)
    for step, batch in enumerate(poisson_batches(x, sampling_rate=q, seed=5, steps=steps)):
        member[step, batch.numpy()[:, 0].astype(int)] = True
    counts = member.sum(0)
    from scipy import stats

    # Chi-square dispersion test of the counts against Binomial(400, 0.2) (scipy's chi2).
    dispersion = np.sum((counts - steps * q) ** 2) / (steps * q * (1 - q))
    assert stats.chi2.sf(dispersion, n) > 1e-3
    assert stats.chi2.cdf(dispersion, n) > 1e-3
    together = (member[:, :-1] & member[:, 1:]).mean()  # neighbours: 400 * 49 pairs
    assert together == pytest.approx(q * q, abs=5 * np.sqrt(q * q * (1 - q * q) / (steps * 49)))
    assert (member[1:] & member[:-1]).mean() == pytest.approx(q * q, abs=0.006)  # across steps


def test_every_epoch_draws_new_poisson_batches(K) -> None:
    x = np.arange(40, dtype="float32")[:, None].repeat(3, 1)
    y = np.zeros(40, "int64")
    model = K.Sequential([K.Input((3,)), K.layers.Dense(2)])
    _private(model, num_examples=40, batch_size=8)
    seen = []
    private_step = model.train_step

    def recording_step(data):
        seen.append(tuple(sorted(data[0].numpy()[:, 0].astype(int).tolist())))
        return private_step(data)

    model.train_step = recording_step
    model.compile(optimizer="sgd", loss=_logits_loss(K), run_eagerly=True)
    model.fit(x, y, epochs=3, verbose=0)
    assert len(seen) == model.privacy.steps == 15
    # A restarted sampler would repeat epoch 1's batches (a repeat by chance: < 1e-10).
    assert seen[:5] != seen[5:10] != seen[10:]
    assert len({len(b) for b in seen}) > 1  # sizes vary: Poisson, not fixed batches


def _digits():
    sklearn = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split

    x, y = sklearn.load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return train_test_split(x, y, test_size=0.2, random_state=0)


def test_dp_accuracy_on_digits_at_epsilon_8_is_close_to_non_private() -> None:
    K = pytest.importorskip("keras")

    xtr, xte, ytr, yte = _digits()

    def build():
        K.utils.set_random_seed(0)
        return K.Sequential(
            [K.Input((64,)), K.layers.Dense(64, activation="relu"), K.layers.Dense(10)]
        )

    plain = build()
    plain.compile(
        optimizer=K.optimizers.SGD(0.5),
        loss=_logits_loss(K, "sum_over_batch_size"),
        metrics=["accuracy"],
    )
    plain.fit(xtr, ytr, batch_size=64, epochs=20, verbose=0)
    plain_acc = plain.evaluate(xte, yte, verbose=0)[1]

    seen_epochs = []
    model = _private(
        build(),
        target_epsilon=8.0,
        delta=1e-5,
        batch_size=64,
        num_examples=len(xtr),
        epochs=20,
        seed=1,
        noise_multiplier=None,
    )
    model.compile(optimizer=K.optimizers.SGD(0.5), loss=_logits_loss(K), metrics=["accuracy"])
    history = model.fit(
        xtr,
        ytr,
        epochs=20,
        verbose=0,
        validation_data=(xte, yte),
        callbacks=[K.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen_epochs.append(e))],
    )
    dp_acc = model.evaluate(xte, yte, verbose=0)[1]
    # Margin: measured here 0.92 (DP) vs 0.97 (plain); DP-SGD at epsilon 8 on 1437
    # examples may lose up to 8 points; chance is 0.10.
    assert dp_acc >= plain_acc - 0.08
    assert dp_acc >= 0.80
    assert seen_epochs == list(range(20))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.history)
    spent = model.privacy.spent()
    assert spent.epsilon <= 8.0
    assert spent.steps == 20 * int(np.ceil(len(xtr) / 64))


def test_training_stops_at_the_budget_and_refuses_more(K, caplog) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 4)).astype("float32")
    y = rng.integers(0, 2, 100)
    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    _private(
        model, target_epsilon=2.0, batch_size=10, num_examples=100, epochs=2, noise_multiplier=None
    )
    model.compile(optimizer=K.optimizers.SGD(0.1), loss=_logits_loss(K))
    with caplog.at_level(logging.WARNING, logger="edgeml.privacy"):
        history = model.fit(x, y, epochs=5, verbose=0)
    assert model.privacy.steps == 20  # 2 planned epochs of 10 steps
    assert len(history.history["loss"]) == 2
    assert "Stopping training early: 20 of 50 planned" in caplog.text
    assert model.privacy.spent().epsilon <= 2.0
    assert len(model.privacy.ledger) == 1
    with pytest.raises(PrivacyBudgetExceeded, match="budget is spent"):
        model.fit(x, y, epochs=1, verbose=0)


@settings(max_examples=10, deadline=None)
@given(
    target=st.floats(0.5, 8.0),
    sigma=st.floats(0.8, 3.0),
    rate=st.floats(0.005, 0.2),
    start=st.integers(1, 500),
)
def test_the_budget_allows_exactly_the_steps_that_stay_within_it(target, sigma, rate, start):
    steps = _max_steps_within(target, sigma, rate, 1e-5, "rdp", start)

    def eps(count):
        return epsilon(noise_multiplier=sigma, sampling_rate=rate, steps=count, delta=1e-5)

    assert steps == 0 or eps(steps) <= target
    assert eps(steps + 1) > target


def test_several_steps_per_execution_are_refused_under_a_budget(K) -> None:
    # Keras checks stop_training only between executions: with 4 steps per execution a
    # budget of 7 steps was overshot by one (epsilon 1.08 for a target of 1.0).
    x = np.zeros((40, 3), "float32")
    y = np.zeros(40, "int64")
    model = K.Sequential([K.Input((3,)), K.layers.Dense(2)])
    _private(model, noise_multiplier=2.0, target_epsilon=1.0, num_examples=40, batch_size=8)
    model.compile(optimizer="sgd", loss=_logits_loss(K), steps_per_execution=4)
    with pytest.raises(ConfigError, match="steps_per_execution=4"):
        model.fit(x, y, epochs=10, verbose=0)
    assert model.privacy.steps == 0
    model.compile(optimizer="sgd", loss=_logits_loss(K))
    model.fit(x, y, epochs=10, verbose=0)
    assert model.privacy.steps == model.privacy.max_steps
    assert model.privacy.spent().epsilon <= 1.0


def test_batch_norm_in_training_mode_is_refused_with_an_explanation(K) -> None:
    model = K.Sequential(
        [K.Input((4,)), K.layers.Dense(3), K.layers.BatchNormalization(), K.layers.Dense(2)]
    )
    with pytest.raises(UnsupportedModelError, match="LayerNormalization or GroupNormalization"):
        _private(model, delta=1e-5, num_examples=1000, batch_size=10)
    model.layers[1].trainable = False  # frozen: runs in inference mode, no mixing
    assert validate_model(model, strict=False) == []


def test_losses_that_reduce_over_the_batch_to_one_number_are_refused(K) -> None:
    x = np.zeros((10, 4), "float32")
    y = np.zeros(10, "int64")
    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    _private(model, num_examples=10, batch_size=5)
    model.compile(optimizer="sgd", loss=lambda yt, yp: tf.reduce_mean(yp))
    with pytest.raises(ConfigError, match="one number for the whole batch"):
        model.fit(x, y, verbose=0)


def _case(name, K):
    """(loss as a user compiles it, output layer, labels maker, weighting) per case."""
    rng = np.random.default_rng(5)
    classes = rng.integers(0, 3, 24)
    binary = rng.integers(0, 2, 24)
    value = rng.normal(size=24).astype("float32")
    return {
        "binary-string-1d": (
            "binary_crossentropy",
            K.layers.Dense(1, activation="sigmoid"),
            binary,
            "class_weight",
        ),
        "binary-object-2d": (
            K.losses.BinaryCrossentropy(from_logits=True),
            K.layers.Dense(1),
            binary[:, None].astype("float32"),
            "sample_weight",
        ),
        "sparse-string-1d": (
            "sparse_categorical_crossentropy",
            K.layers.Dense(3, activation="softmax"),
            classes,
            "class_weight",
        ),
        "sparse-object-2d": (
            K.losses.SparseCategoricalCrossentropy(from_logits=True),
            K.layers.Dense(3),
            classes[:, None],
            None,
        ),
        "categorical-object-onehot": (
            K.losses.CategoricalCrossentropy(from_logits=True),
            K.layers.Dense(3),
            np.eye(3, dtype="float32")[classes],
            "class_weight",
        ),
        "mse-string-1d": ("mse", K.layers.Dense(1), value, "sample_weight"),
        "huber-object-2d": (K.losses.Huber(), K.layers.Dense(1), value[:, None], None),
    }[name]


@pytest.mark.parametrize(
    "case",
    [
        "binary-string-1d",
        "binary-object-2d",
        "sparse-string-1d",
        "sparse-object-2d",
        "categorical-object-onehot",
        "mse-string-1d",
        "huber-object-2d",
    ],
)
def test_the_loss_a_plain_model_compiles_with_trains_the_private_one_the_same(K, case) -> None:
    # Issue 16: 1-D labels for Dense(1) raised Keras's rank error, and default-reduction
    # Loss objects and string losses were refused. Reference: plain Keras fit, one full
    # batch, the same compile call; the private model with a huge clip and no noise must
    # take the same step (sum of per-example gradients over N = Keras' batch mean).
    loss, head, y, weighting = _case(case, K)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(24, 5)).astype("float32")
    extra = {}
    if weighting == "sample_weight":
        extra["sample_weight"] = rng.uniform(0.2, 2.0, 24).astype("float32")
    elif weighting == "class_weight":
        extra["class_weight"] = {0: 0.5, 1: 2.0, 2: 1.5}

    def build():
        K.utils.set_random_seed(3)
        return K.Sequential([K.Input((5,)), K.layers.Dense(4, activation="tanh"), head])

    plain = build()
    before = [w.numpy().copy() for w in plain.trainable_weights]
    plain.compile(optimizer=K.optimizers.SGD(1.0), loss=loss)
    plain.fit(x, y, batch_size=24, epochs=1, shuffle=False, verbose=0, **extra)
    expected = [b - w.numpy() for b, w in zip(before, plain.trainable_weights, strict=True)]

    private = K.models.clone_model(plain)
    private.set_weights(before)
    _private(
        private,
        noise_multiplier=0.0,
        l2_norm_clip=1e6,
        num_examples=24,
        batch_size=24,
        sampling="shuffle",
    )
    private.compile(optimizer=K.optimizers.SGD(1.0), loss=loss)
    private.fit(x, y, epochs=1, verbose=0, **extra)
    for b, w, e in zip(before, private.trainable_weights, expected, strict=True):
        np.testing.assert_allclose(b - w.numpy(), e, rtol=1e-4, atol=1e-6)


def test_a_binary_classifier_with_1d_labels_trains_privately_with_poisson_batches() -> None:
    K = pytest.importorskip("keras")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(426, 6)).astype("float32")
    y = (x[:, 0] + 0.3 * rng.normal(size=426) > 0).astype("int64")  # shape (426,)
    model = K.Sequential([K.Input((6,)), K.layers.Dense(1, activation="sigmoid")])
    _private(model, num_examples=426, batch_size=32, noise_multiplier=0.8)
    model.compile(optimizer=K.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, class_weight={0: 1.0, 1: 1.0}, verbose=0)
    assert model.privacy.steps == 3 * 14
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["accuracy"][-1] > 0.7  # one clear feature; chance is ~0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"l2_norm_clip": 0.0}, ConfigError, "'l2_norm_clip'"),
        ({"l2_norm_clip": -1.0}, ConfigError, "'l2_norm_clip'"),
        ({"delta": 0.01}, ConfigError, "below 1 / num_examples"),
        ({"batch_size": 500}, ConfigError, "at most num_examples"),
        (
            {"target_epsilon": 1e-4, "noise_multiplier": None, "epochs": 50},
            ConfigError,
            "No noise multiplier",
        ),
        ({"noise_multiplier": None}, ConfigError, "target_epsilon"),
        ({"noise_multiplier": None, "target_epsilon": 1.0}, ConfigError, "needs epochs"),
        ({"sampling": "fixed"}, ConfigError, "'sampling'"),
    ],
)
def test_bad_arguments_get_edgeml_errors(kwargs, error, match) -> None:
    K = pytest.importorskip("keras")

    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    base = {
        "noise_multiplier": 1.0,
        "l2_norm_clip": 1.0,
        "delta": 1e-4,
        "num_examples": 200,
        "batch_size": 20,
    }
    with pytest.raises(error, match=match):
        make_private(model, **{**base, **kwargs})


def test_model_without_trainable_weights_is_refused() -> None:
    K = pytest.importorskip("keras")

    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    model.trainable = False
    with pytest.raises(UnsupportedModelError, match="no trainable weights"):
        _private(model, delta=1e-4, num_examples=200, batch_size=20)


def test_fit_refuses_data_that_breaks_the_accounting() -> None:
    K = pytest.importorskip("keras")

    x = np.zeros((40, 4), "float32")
    y = np.zeros(40, "int64")
    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    _private(model, num_examples=40, batch_size=8)
    model.compile(optimizer="sgd", loss=_logits_loss(K))
    with pytest.raises(ConfigError, match="not Poisson-sampled"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), verbose=0)
    with pytest.raises(DataError, match="num_examples=40"):
        model.fit(x[:30], y[:30], verbose=0)
    with pytest.raises(ConfigError, match="'batch_size' argument of fit"):
        model.fit(x, y, batch_size=16, verbose=0)
    with pytest.raises(ConfigError, match="validation_data"):
        model.fit(x, y, validation_split=0.2, verbose=0)
    with pytest.raises(ConfigError, match="train_on_batch on a private"):
        model.train_on_batch(x[:8], y[:8])
    assert model.privacy.steps == 0
    # A Poisson dataset built by hand at the right rate is accepted.
    model.fit(poisson_batches(x, y, sampling_rate=8 / 40, seed=0), epochs=1, verbose=0)
    assert model.privacy.steps == 5


def test_the_flavour_comes_from_the_model_not_the_environment() -> None:
    K = pytest.importorskip("keras")

    before = os.environ.get("TF_USE_LEGACY_KERAS")
    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    flavor = _keras.flavor_of(model)
    assert flavor.name == ("keras3" if K.__version__.startswith("3") else "keras2")
    make_private(
        model, noise_multiplier=1.0, l2_norm_clip=1.0, delta=1e-4, num_examples=200, batch_size=20
    )
    assert os.environ.get("TF_USE_LEGACY_KERAS") == before
    with pytest.raises(UnsupportedModelError, match="needs a Keras model"):
        _keras.flavor_of(object())


def test_a_privately_trained_model_converts_to_tflite(tmp_path) -> None:
    import edgeml

    convert = getattr(edgeml, "convert", None)
    if convert is None:
        pytest.skip("edgeml.convert is not available in this build")
    pytest.importorskip("ai_edge_litert")  # not in the compat lane
    K = pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 60)
    model = K.Sequential(
        [
            K.Input((8, 8, 1)),
            K.layers.Conv2D(4, 3, activation="relu"),
            K.layers.Flatten(),
            K.layers.Dense(3),
        ]
    )
    _private(model, num_examples=60, batch_size=10)
    model.compile(optimizer="sgd", loss=_logits_loss(K))
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "private.tflite"
    convert(model).save(path)
    device = edgeml.load(path)
    np.testing.assert_allclose(device.predict(x[:4]), model.predict(x[:4], verbose=0), atol=1e-5)


def test_sample_weights_scale_each_examples_loss_before_clipping() -> None:
    K = pytest.importorskip("keras")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(12, 5)).astype("float32")
    y = rng.integers(0, 3, 12)
    weights = rng.integers(0, 3, 12).astype("float32")
    model = K.Sequential([K.Input((5,)), K.layers.Dense(3)])
    before = [w.numpy().copy() for w in model.trainable_weights]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(_logits_loss(K)(y, model(x)) * weights) / 12.0
    expected = [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]
    _private(
        model,
        noise_multiplier=0.0,
        l2_norm_clip=1e6,
        num_examples=12,
        batch_size=12,
        sampling="shuffle",
    )
    model.compile(optimizer=K.optimizers.SGD(1.0), loss=_logits_loss(K))
    model.fit(x, y, sample_weight=weights, epochs=1, verbose=0)
    for b, w, g in zip(before, model.trainable_weights, expected, strict=True):
        np.testing.assert_allclose(b - w.numpy(), g, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_training_ignores_tf_use_legacy_keras(tmp_path) -> None:
    # tensorflow-model-optimization sets TF_USE_LEGACY_KERAS=1 at import: then tf.keras is
    # tf-keras while `import keras` stays Keras 3. Both kinds of model must train.
    import subprocess
    import sys

    if not tf.__version__.startswith("2.2"):
        pytest.skip("only meaningful where Keras 3 and tf-keras coexist")
    script = tmp_path / "legacy.py"
    script.write_text(
        "import os\n"
        "os.environ['TF_USE_LEGACY_KERAS'] = '1'\n"
        "import numpy as np, tensorflow as tf, keras\n"
        "from edgeml.privacy import make_private\n"
        "x = np.zeros((20, 3), 'float32'); y = np.zeros(20, 'int64')\n"
        "for K in (keras, tf.keras):\n"
        "    m = K.Sequential([K.Input((3,)), K.layers.Dense(2)])\n"
        "    make_private(m, noise_multiplier=1.0, l2_norm_clip=1.0, delta=1e-3,\n"
        "                 num_examples=20, batch_size=5, seed=0)\n"
        "    m.compile(optimizer='sgd', loss=K.losses.SparseCategoricalCrossentropy(\n"
        "        from_logits=True, reduction='none'))\n"
        "    m.fit(x, y, epochs=1, verbose=0)\n"
        "    print(type(m).__module__.split('.')[0], m.privacy.steps)\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.split() == ["keras", "4", "tf_keras", "4"]


def test_empty_poisson_batches_still_add_noise_and_count_as_steps() -> None:
    K = pytest.importorskip("keras")
    x = np.ones((20, 3), "float32")
    y = np.zeros(20, "int64")
    model = K.Sequential([K.Input((3,)), K.layers.Dense(2)])
    before = [w.numpy().copy() for w in model.trainable_weights]
    # q = 1/20: about a third of the batches are empty (0.95^20 = 0.36).
    _private(model, num_examples=20, batch_size=1)
    model.compile(optimizer=K.optimizers.SGD(0.1), loss=_logits_loss(K), metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert model.privacy.steps == 20
    assert np.isfinite(history.history["loss"][0])
    for w, b in zip(model.trainable_weights, before, strict=True):
        assert np.all(np.isfinite(w.numpy()))
        assert not np.allclose(w.numpy(), b)  # noise moved every weight


def test_a_shared_ledger_refuses_a_run_that_would_exceed_its_budget() -> None:
    from edgeml.privacy import Ledger

    K = pytest.importorskip("keras")
    ledger = Ledger(delta=1e-4, budget=2.0)
    ledger.record(name="earlier release", noise_multiplier=2.0, sampling_rate=0.1, steps=20)
    spent_before = ledger.spent().epsilon
    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    with pytest.raises(PrivacyBudgetExceeded, match="planned training"):
        _private(
            model,
            target_epsilon=1.9,
            delta=1e-4,
            batch_size=10,
            num_examples=100,
            epochs=5,
            ledger=ledger,
            noise_multiplier=None,
        )
    assert ledger.spent().epsilon == spent_before
    x, y = np.zeros((100, 4), "float32"), np.zeros(100, "int64")
    _private(
        model,
        noise_multiplier=3.0,
        delta=1e-4,
        batch_size=10,
        num_examples=100,
        epochs=1,
        ledger=ledger,
    )
    model.compile(optimizer="sgd", loss=_logits_loss(K))
    model.fit(x, y, epochs=1, verbose=0)
    assert len(ledger) == 2
    assert spent_before < ledger.spent().epsilon <= 2.0


def test_training_stops_at_a_shared_ledgers_budget_and_is_recorded() -> None:
    # Without target_epsilon or epochs only the shared ledger bounds the run; before the
    # fix training ran all 300 steps (over the budget) and the ledger, refusing the
    # record, silently left the run out.
    from edgeml.privacy import Ledger

    K = pytest.importorskip("keras")
    ledger = Ledger(delta=1e-4, budget=2.0)
    ledger.record(name="earlier release", noise_multiplier=2.0, sampling_rate=0.1, steps=20)
    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    _private(
        model, noise_multiplier=3.0, delta=1e-4, batch_size=10, num_examples=100, ledger=ledger
    )
    model.compile(optimizer="sgd", loss=_logits_loss(K))
    x, y = np.zeros((100, 4), "float32"), np.zeros(100, "int64")
    model.fit(x, y, epochs=30, verbose=0)
    steps = model.privacy.steps
    assert 0 < steps < 300
    assert len(ledger) == 2
    assert ledger.spent().epsilon <= 2.0

    # Reference: dp-accounting on the two releases, one more step must exceed the budget.
    import dp_accounting

    def total(run_steps):
        accountant = dp_accounting.rdp.RdpAccountant()
        for sigma, count in ((2.0, 20), (3.0, run_steps)):
            event = dp_accounting.PoissonSampledDpEvent(0.1, dp_accounting.GaussianDpEvent(sigma))
            accountant.compose(dp_accounting.SelfComposedDpEvent(event, count))
        return accountant.get_epsilon(1e-4)

    assert total(steps) <= 2.0 < total(steps + 1)
    with pytest.raises(PrivacyBudgetExceeded, match="shared ledger's budget"):
        model.fit(x, y, epochs=1, verbose=0)


def test_shuffle_mode_refuses_what_it_cannot_verify() -> None:
    # Issue 12, defect 1: a dataset batched at N for 20 steps was charged q = B / N
    # (epsilon 1.45) while each step really used every example (q = 1: epsilon 25.1).
    K = pytest.importorskip("keras")
    x = np.zeros((40, 4), "float32")
    y = np.zeros(40, "int64")
    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    _private(model, num_examples=40, batch_size=8, sampling="shuffle")
    model.compile(optimizer="sgd", loss=_logits_loss(K))
    whole = tf.data.Dataset.from_tensor_slices((x, y)).batch(40).repeat(20)
    with pytest.raises(ConfigError, match="cannot be checked"):
        model.fit(whole, epochs=1, verbose=0)
    with pytest.raises(ConfigError, match="shuffle=False"):
        model.fit(x, y, shuffle=False, verbose=0)
    with pytest.raises(ConfigError, match="cannot check"):
        model.fit(iter([(x[:8], y[:8])]), verbose=0)
    assert model.privacy.steps == 0
    # What fit does itself is what it charges: ceil(40 / 8) batches of at most 8.
    sizes = []
    private_step = model.train_step

    def recording_step(data):
        sizes.append(int(data[0].shape[0]))
        return private_step(data)

    model.train_step = recording_step
    model.compile(optimizer="sgd", loss=_logits_loss(K), run_eagerly=True)
    model.fit(x, y, epochs=1, verbose=0)
    assert sizes == [8] * 5 == [model.privacy.batch_size] * model.privacy.steps


def test_a_poisson_dataset_must_sample_the_declared_training_set() -> None:
    K = pytest.importorskip("keras")
    x = np.zeros((40, 4), "float32")
    y = np.zeros(40, "int64")
    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    _private(model, num_examples=40, batch_size=8)
    model.compile(optimizer="sgd", loss=_logits_loss(K))
    # The right rate, but drawn from 10 of the 40 examples.
    with pytest.raises(DataError, match="from 10 examples"):
        model.fit(poisson_batches(x[:10], y[:10], sampling_rate=0.2, seed=0), verbose=0)
    assert model.privacy.steps == 0


def test_a_seed_reproduces_sampling_but_never_the_noise_unless_asked_loudly(K) -> None:
    # Issue 12, defect 6: make_private(seed=0) reproduced the noise bit for bit, so anyone
    # who knew the seed could subtract it. Zero data and zero labels: with a zero kernel
    # the clipped gradient is the same in every run, so weights differ only by noise.
    x = np.zeros((20, 3), "float32")
    y = np.zeros(20, "int64")

    def train(**kwargs):
        model = K.Sequential([K.Input((3,)), K.layers.Dense(2, kernel_initializer="zeros")])
        _private(model, num_examples=20, batch_size=5, **kwargs)
        model.compile(optimizer=K.optimizers.SGD(1.0), loss=_logits_loss(K))
        model.fit(x, y, epochs=1, verbose=0)
        return model, np.concatenate([w.numpy().ravel() for w in model.trainable_weights])

    first, w1 = train(seed=0)
    _, w2 = train(seed=0)
    assert not np.allclose(w1, w2)  # same sampling seed, fresh secure noise
    assert first.privacy.spent().noise_seeded is False
    assert "seed" not in first.privacy.spent().statement()
    seeded, w3 = train(seed=0, insecure_noise_seed=11)
    _, w4 = train(seed=0, insecure_noise_seed=11)
    np.testing.assert_array_equal(w3, w4)
    spent = seeded.privacy.spent()
    assert spent.noise_seeded is True
    assert spent.to_dict()["noise_seeded"] is True
    assert "does not hold against anyone who knows the seed" in spent.statement()
    assert seeded.privacy.ledger.spent().noise_seeded is True
    with pytest.raises(ConfigError, match="'insecure_noise_seed'"):
        _private(
            K.Sequential([K.Input((3,)), K.layers.Dense(2)]),
            num_examples=20,
            batch_size=5,
            insecure_noise_seed="0",
        )


def _batch_centring_layer(K, *, blocked=False):
    """A custom layer that subtracts 50 times the batch mean: it mixes examples."""

    class BatchCentre(K.layers.Layer):
        def call(self, z):
            mean = tf.reduce_mean(z, axis=0, keepdims=True)
            return z - 50.0 * (tf.stop_gradient(mean) if blocked else mean)

    return BatchCentre(name="centre")


@pytest.mark.parametrize("blocked", [False, True])
def test_a_layer_that_mixes_the_batch_is_refused_whatever_its_name(K, blocked) -> None:
    # Issue 12, defect 5: only BatchNormalization and activity regularizers were known;
    # this layer passed, and one example then moved the clipped sum by 1.43 C.
    layers = [K.layers.Dense(3), _batch_centring_layer(K, blocked=blocked), K.layers.Dense(2)]
    model = K.Sequential([K.Input((4,)), *layers])
    with pytest.raises(UnsupportedModelError, match="mixes examples within a batch"):
        _private(model, delta=1e-5, num_examples=1000, batch_size=10)
    problems = validate_model(model, strict=False)
    assert len(problems) == 1
    assert "training mode" in problems[0]


def test_the_mixing_check_sees_through_dropout_without_false_alarms(K) -> None:
    # Random in training mode: the batch-vs-alone comparison cannot be exact, so the
    # gradient of one example's output with respect to the other inputs is checked.
    layers = [K.layers.Dense(8), K.layers.Dropout(0.3), _batch_centring_layer(K)]
    mixing = K.Sequential([K.Input((4,)), *layers, K.layers.Dense(2)])
    assert any("mixes examples" in p for p in validate_model(mixing, strict=False))
    fine = [
        K.Sequential([K.Input((4,)), K.layers.Dense(8), K.layers.Dropout(0.3), K.layers.Dense(2)]),
        K.Sequential(
            [
                K.Input((6, 6, 2)),
                K.layers.Conv2D(4, 3),
                K.layers.LayerNormalization(),
                K.layers.GaussianNoise(0.1),
                K.layers.Flatten(),
                K.layers.Dense(3),
            ]
        ),
        K.Sequential(
            [
                K.Input((5,), dtype="int32"),
                K.layers.Embedding(10, 3),
                K.layers.Flatten(),
                K.layers.Dense(2),
            ]
        ),
    ]
    for model in fine:
        assert validate_model(model, strict=False) == []


def test_normalization_adapted_on_the_data_is_flagged(K) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(50, 4)).astype("float32")
    adapted = K.layers.Normalization(name="norm")
    adapted.adapt(data)
    model = K.Sequential([K.Input((4,)), adapted, K.layers.Dense(2)])
    problems = validate_model(model, strict=False)
    assert len(problems) == 1
    assert "'norm'" in problems[0]
    assert "adapt()" in problems[0]
    assert validate_model(model, strict=False, public_statistics=["norm"]) == []
    given = K.layers.Normalization(mean=[0.0] * 4, variance=[1.0] * 4)
    assert (
        validate_model(K.Sequential([K.Input((4,)), given, K.layers.Dense(2)]), strict=False) == []
    )


def test_other_adapted_preprocessing_layers_are_flagged(K) -> None:
    # Discretization boundaries and lookup vocabularies adapted on the private data are
    # released with the model just like Normalization's mean and variance.
    rng = np.random.default_rng(0)
    numbers = rng.normal(size=(60, 1)).astype("float32")
    binned = K.layers.Discretization(num_bins=4, name="bins")
    binned.adapt(numbers)
    given = K.layers.Discretization(bin_boundaries=[-1.0, 0.0, 1.0], name="given")
    words = K.layers.StringLookup(name="words")
    words.adapt(np.array(["ann", "bob", "cy"]))
    listed = K.layers.StringLookup(vocabulary=["ann", "bob"], name="listed")
    assert _adapted_statistics(binned) is not None
    assert _adapted_statistics(given) is None
    assert _adapted_statistics(words) is not None
    assert _adapted_statistics(listed) is None
    fresh = K.layers.StringLookup(name="fresh")
    assert _adapted_statistics(fresh) is None
    assert _adapted_statistics(K.layers.Dense(2)) is None


def test_a_run_that_ends_as_planned_logs_no_warning(K, caplog) -> None:
    # Issue 16: "Stopping training" was a WARNING on every run that simply finished its
    # planned epochs; it is INFO then, and WARNING only when the budget cuts a run short.
    x = np.zeros((40, 4), "float32")
    y = np.zeros(40, "int64")
    model = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    _private(
        model, target_epsilon=2.0, batch_size=10, num_examples=40, epochs=2, noise_multiplier=None
    )
    model.compile(optimizer="sgd", loss=_logits_loss(K))
    with caplog.at_level(logging.INFO, logger="edgeml.privacy"):
        model.fit(x, y, epochs=2, verbose=0)
    assert model.privacy.steps == 8
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "finished as planned" in caplog.text
