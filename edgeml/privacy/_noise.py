"""Gaussian noise for DP-SGD from a cryptographically secure generator.

Anyone who can regenerate DP-SGD's noise can subtract it from the released weights, so
the noise must be unpredictable. Each draw takes a fresh 256-bit key from the operating
system (:func:`secrets.token_bytes`) and expands it with the ChaCha20 stream cipher
(``cryptography``), a cryptographically secure generator at about 1 GB/s. Only when the
user explicitly passes ``insecure_noise_seed`` are the keys derived from that seed
(SHA-256 of the seed and a draw counter), which makes the noise reproducible and the
guarantee void against anyone who knows the seed.

The random words become Gaussian values by the Box-Muller transform.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

__all__ = ["NoiseSource", "polar_from_words"]


def polar_from_words(radius_words: Any, angle_words: Any) -> tuple[Any, Any]:
    """Turn random words into Box-Muller radii and angles (float32).

    Parameters
    ----------
    radius_words : numpy.ndarray of uint64
        One word per pair of Gaussian values.
    angle_words : numpy.ndarray of uint32
        One word per pair.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``r = sqrt(-2 ln u)`` and ``t = 2 pi v``: ``(r cos t, r sin t)`` are two
        independent standard normal values.
    """
    # 24 bits, like a float32 uniform: 1 - u lies on a 2^-24 grid in (0, 1].
    uniform = ((np.asarray(radius_words) >> np.uint64(40)).astype(np.float64) + 1.0) * 2.0**-24
    radius = np.sqrt(-2.0 * np.log(uniform)).astype(np.float32)
    angle = (np.asarray(angle_words) >> np.uint32(8)).astype(np.float32) * np.float32(
        2.0 * math.pi * 2.0**-24
    )
    return radius, angle


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
        count = int(pairs)
        data = self._stream(12 * count)
        radius_words = np.frombuffer(data, dtype="<u8", count=count)
        angle_words = np.frombuffer(data, dtype="<u4", offset=8 * count, count=count)
        return polar_from_words(radius_words.astype(np.uint64), angle_words.astype(np.uint32))

    def normal(self, count: int, std: float, dtype: Any) -> Any:
        """Draw ``count`` values from ``N(0, std^2)`` as a TensorFlow tensor.

        Works eagerly and inside ``tf.function`` (through ``tf.numpy_function``; never
        XLA-compiled, like the rest of the private step).
        """
        import tensorflow as tf

        half = (int(count) + 1) // 2
        radius, angle = tf.numpy_function(
            self.polar, [tf.constant(half, tf.int64)], [tf.float32, tf.float32], stateful=True
        )
        radius = tf.ensure_shape(radius, [half])
        angle = tf.ensure_shape(angle, [half])
        normal = tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], axis=0)[:count]
        return tf.cast(normal * std, dtype)
