"""Optimization with tensorflow-model-optimization: QAT, pruning, clustering, strip.

tfmot only accepts tf-keras (Keras 2) models. These functions accept Keras 3 models too:
they rebuild them as tf-keras (see :mod:`edgeml.conversion._rebuild`), check the copy
computes the same outputs, and say so in the log. Layers tfmot cannot handle are listed
by name before any work is done (:func:`check_optimizable`).

tfmot is imported through :func:`edgeml.conversion._tfmot.tfmot`, which keeps its import
from changing what ``tf.keras`` means in the user's process.
"""

from __future__ import annotations

import logging
from typing import Any

from edgeml.conversion._tfmot import tfmot

__all__ = ["strip"]

logger = logging.getLogger("edgeml.conversion")


def strip(model: Any) -> Any:
    """Remove pruning and clustering wrappers, keeping the optimized weights.

    Call it before saving or converting a model returned by :func:`prune` or
    :func:`cluster` (``convert`` does it for you). Quantization-aware models need no
    stripping: the converter reads their quantization ranges.

    Parameters
    ----------
    model : tf_keras.Model
        A model with ``prune_low_magnitude`` or ``cluster_weights`` wrappers.

    Returns
    -------
    tf_keras.Model
        The same architecture with plain layers and the final (sparse or clustered)
        weights.
    """
    module = tfmot()
    stripped = module.sparsity.keras.strip_pruning(model)
    return module.clustering.keras.strip_clustering(stripped)
