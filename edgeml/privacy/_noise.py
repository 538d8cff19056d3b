"""Gaussian noise for DP-SGD from a cryptographically secure generator.

Anyone who can regenerate DP-SGD's noise can subtract it from the released weights, so
the noise must be unpredictable. Each draw takes a fresh 256-bit key from the operating
system (:func:`secrets.token_bytes`) and expands it with the ChaCha20 stream cipher
(``cryptography``), a cryptographically secure generator at about 1 GB/s. Only when the
user explicitly passes ``insecure_noise_seed`` are the keys derived from that seed
(SHA-256 of the seed and a draw counter), which makes the noise reproducible and the
guarantee void against anyone who knows the seed.

The random words become Gaussian values by the Box-Muller transform, built so that its
tail is not cut where it matters. TensorFlow's samplers (and edgeml's before this version) feed
Box-Muller with float32 uniforms on a 2^-24 grid, which caps each pair's radius at
5.6 standard deviations: a clipped gradient along one axis could then move the output
outside the support of the neighbouring distribution with probability about 4e-6 per
step at sigma = 1, more than a usual delta over a run. Here the uniform behind the radius
is resolved to 2^-169, so radii up to :data:`MAX_RADIUS` (15.3 standard deviations) are
drawn, and the ideal Gaussian's mass beyond them is :data:`TAIL_MASS_PER_PAIR`
(2.7e-51 per pair). :func:`noise_tail_delta` turns that into the (tiny) delta it costs
over a run, which ``PrivacyState.spent`` adds to the reported delta.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

__all__ = [
    "MAX_RADIUS",
    "TAIL_MASS_PER_PAIR",
    "NoiseSource",
    "noise_tail_delta",
    "polar_from_words",
]


# Each pair of normal values comes from one 64-bit word: 40 bits for the uniform behind
# the radius, 24 for the angle. A uniform that falls in the lowest 2^-40 cell is refined
# with fresh 64-bit words, twice, so the smallest uniform is 2^-169.
_RADIUS_BITS = 40
_ANGLE_BITS = 64 - _RADIUS_BITS
_REFINEMENTS = 2
#: Probability, per pair of ideal normal values, of the part of the Box-Muller tail the
#: sampler cannot produce: radii beyond :data:`MAX_RADIUS` (``U < 2^-168``).
TAIL_MASS_PER_PAIR = 2.0 ** -(_RADIUS_BITS + 64 * _REFINEMENTS)
#: The largest radius (in standard deviations) of a pair of drawn values, about 15.3.
MAX_RADIUS = math.sqrt(2.0 * (_RADIUS_BITS + 64 * _REFINEMENTS + 1) * math.log(2.0))


def polar_from_words(words: Any, more_words: Callable[[int], Any]) -> tuple[Any, Any]:
    """Turn random 64-bit words into Box-Muller radii and angles (float32).

    Parameters
    ----------
    words : numpy.ndarray of uint64
        One word per pair of normal values.
    more_words : callable
        ``more_words(k)`` returns ``k`` further random words; called only for the
        uniforms that fall in the lowest cell (probability ``2^-40`` each).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``r = sqrt(-2 ln u)`` and ``t = 2 pi v``: ``(r cos t, r sin t)`` are two
        independent standard normal values, up to rounding, except that radii beyond
        :data:`MAX_RADIUS` are never drawn (ideal probability
        :data:`TAIL_MASS_PER_PAIR`, about 2.7e-51).

    Examples
    --------
    >>> import numpy as np
    >>> zeros = lambda k: np.zeros(k, np.uint64)
    >>> radius, angle = polar_from_words(zeros(1), zeros)
    >>> round(float(radius[0]), 2), round(MAX_RADIUS, 2)
    (15.31, 15.31)
    """
    words = np.asarray(words, dtype=np.uint64)
    cells = words >> np.uint64(_ANGLE_BITS)
    # u = (k + 1/2) 2^-40 in float32: float32's exponent reaches far below 2^-40, so the
    # coarse grid, not the float format, sets the tail (unlike uniforms in [0, 1)).
    uniform = cells.astype(np.float32)
    uniform += np.float32(0.5)
    uniform *= np.float32(2.0**-_RADIUS_BITS)
    radius = np.log(uniform)
    radius *= np.float32(-2.0)
    np.sqrt(radius, out=radius)
    lowest = np.flatnonzero(cells == 0)
    if lowest.size:
        radius[lowest] = _refined_radius(lowest.size, more_words)
    angle = (words & np.uint64(2**_ANGLE_BITS - 1)).astype(np.float32)
    angle *= np.float32(2.0 * math.pi * 2.0**-_ANGLE_BITS)
    return radius, angle


def _refined_radius(count: int, more_words: Callable[[int], Any]) -> Any:
    """Radii for uniforms known to lie in ``(0, 2^-40)``, resolved further in float64."""
    scale = 2.0**-_RADIUS_BITS
    uniform = np.empty(count)
    todo = np.arange(count)
    for _ in range(_REFINEMENTS):
        scale *= 2.0**-64
        extra = np.asarray(more_words(todo.size), dtype=np.uint64)
        uniform[todo] = (extra.astype(np.float64) + 0.5) * scale
        todo = todo[extra == 0]
        if not todo.size:
            break
    uniform[todo] = 0.5 * scale  # the last cell: the cap, 2^-169
    return np.sqrt(-2.0 * np.log(uniform)).astype(np.float32)


def noise_tail_delta(*, values_per_step: int, steps: int, epsilon: float) -> float:
    """Delta to add for the sampler's missing Gaussian tail, over a whole run.

    With ``tau`` the ideal probability that any of the run's ``steps * ceil(values / 2)``
    noise pairs needs a radius beyond :data:`MAX_RADIUS`, the drawn noise equals ideal
    Gaussian noise except with probability ``tau``. An (epsilon, delta)-DP guarantee of
    the ideal mechanism then holds for the implemented one with ``delta + (1 + e^epsilon)
    tau``. ``tau`` is at most ``2.7e-51`` per pair, so this is far below float64
    resolution next to any usual delta (1e-9 for 10^20 values and epsilon 50).

    Parameters
    ----------
    values_per_step : int
        Noise values drawn per step (the number of trainable weights).
    steps : int
        Steps taken.
    epsilon : float
        The epsilon of the guarantee (infinite gives 0: there is no guarantee to fix).

    Returns
    -------
    float

    Examples
    --------
    >>> noise_tail_delta(values_per_step=10**9, steps=10**6, epsilon=10.0) < 1e-30
    True
    """
    if not math.isfinite(epsilon) or steps <= 0:
        return 0.0
    pairs = math.ceil(values_per_step / 2) * steps
    return (1.0 + math.exp(min(epsilon, 700.0))) * pairs * TAIL_MASS_PER_PAIR


class NoiseSource:
    """Where DP-SGD's Gaussian noise comes from.

    Parameters
    ----------
    insecure_seed : int, optional
        ``None`` (the default): every draw is keyed from the operating system's secure
        random source. An integer makes every draw reproducible from it, which lets
        anyone who knows it remove the noise (for tests and debugging only).

    Examples
    --------
    >>> a, b = NoiseSource(insecure_seed=3), NoiseSource(insecure_seed=3)
    >>> bool((a.words(4) == b.words(4)).all()), a.seeded
    (True, True)
    >>> secure = NoiseSource()
    >>> bool((secure.words(4) == NoiseSource().words(4)).all()), secure.seeded
    (False, False)
    """

    def __init__(self, insecure_seed: int | None = None) -> None:
        self._seed = insecure_seed
        self._draws = 0
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pending: tuple[tuple[int, float], Future[Any]] | None = None

    @property
    def seeded(self) -> bool:
        """Whether the noise is reproducible from a seed (and so not secret)."""
        return self._seed is not None

    def _key(self) -> bytes:
        if self._seed is None:
            return secrets.token_bytes(32)
        with self._lock:
            self._draws += 1
            draw = self._draws
        return hashlib.sha256(f"edgeml.dpsgd.noise/{self._seed}/{draw}".encode()).digest()

    def _stream(self, nbytes: int) -> bytes:
        # A fresh key for every draw, so the all-zero nonce never repeats under one key.
        cipher = Cipher(algorithms.ChaCha20(self._key(), bytes(16)), mode=None).encryptor()
        return cipher.update(bytes(nbytes))

    def words(self, count: int) -> Any:
        """Return ``count`` random 64-bit words (numpy ``uint64``)."""
        return np.frombuffer(self._stream(8 * int(count)), dtype="<u8").astype(np.uint64)

    def polar(self, pairs: Any) -> tuple[Any, Any]:
        """Return Box-Muller radii and angles for ``pairs`` pairs of normal values."""
        return polar_from_words(self.words(int(pairs)), self.words)

    def normal_array(self, count: Any, std: Any) -> Any:
        """Return ``count`` values from ``N(0, std^2)`` as a numpy float32 array."""
        count = int(count)
        half = (count + 1) // 2
        radius, angle = self.polar(half)
        radius *= np.float32(std)
        values = np.empty(2 * half, np.float32)
        np.cos(angle, out=values[:half])
        np.sin(angle, out=values[half:])
        values[:half] *= radius
        values[half:] *= radius
        return values[:count]

    def _next_array(self, count: Any, std: Any) -> Any:
        """Return this step's noise, drawn while the previous step ran, and start the next.

        The private step asks for the same ``(count, std)`` every time, so the next draw
        is computed in a background thread while TensorFlow runs the forward and backward
        passes; the noise is as secret as before, only produced one step ahead. The draws
        stay in order, so seeded noise is reproducible as before.
        """
        request = (int(count), float(std))
        with self._lock:
            pending, self._pending = self._pending, None
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="edgeml-dp-noise")
            executor = self._executor
        if pending is not None and pending[0] == request:
            values = pending[1].result()
        else:
            if pending is not None:
                pending[1].result()  # keep the draw order (and the seeded sequence)
            values = self.normal_array(*request)
        with self._lock:
            self._pending = (request, executor.submit(self.normal_array, *request))
        return values

    def normal(self, count: int, std: float, dtype: Any) -> Any:
        """Draw ``count`` values from ``N(0, std^2)`` as a TensorFlow tensor.

        Works eagerly and inside ``tf.function`` (through ``tf.numpy_function``; never
        XLA-compiled, like the rest of the private step).
        """
        import tensorflow as tf  # only the TensorFlow step needs it

        values = tf.numpy_function(
            self._next_array,
            [tf.constant(int(count), tf.int64), tf.constant(float(std), tf.float64)],
            tf.float32,
            stateful=True,
        )
        values = tf.ensure_shape(values, [int(count)])
        return values if values.dtype == dtype else tf.cast(values, dtype)
