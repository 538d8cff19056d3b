"""Drift statistics as small composable functions, streaming detectors and mergeable sketches.

Pure numpy/scipy: runs on a device, in a notebook or on a server, without TensorFlow.

- Tests on two samples, each returning a :class:`DriftResult` (one per column for 2-D
  input) that unpacks as ``(statistic, pvalue)``: :func:`psi`, :func:`js`,
  :func:`wasserstein` (effect sizes), :func:`ks`, :func:`chi2` and the multivariate
  :func:`mmd` (p-values).
- :func:`compare` runs them over every feature of two tables and returns a
  :class:`DriftReport` with multiple-testing correction and one dataset verdict.
- :class:`Histogram` is a mergeable sketch (edges from the reference); :func:`psi`,
  :func:`js` and :func:`chi2` accept sketches exactly, :func:`ks` and
  :func:`wasserstein` approximately with bounds (:func:`ks_from_histograms`,
  :func:`wasserstein_from_histograms`).
- Streaming detectors :class:`ADWIN`, :class:`PageHinkley`, :class:`DDM` and
  :class:`HDDM_A` (river 0.26 semantics: the same alarms and warnings, proved by
  ``tests/conformance/test_river_detectors.py``; vectorized ``update_many``) and
  :func:`evaluate_detector`.

Examples
--------
>>> import numpy as np
>>> import edgeml.drift as drift
>>> rng = np.random.default_rng(0)
>>> statistic, pvalue = drift.ks(rng.normal(size=300), rng.normal(size=300))
>>> pvalue > 0.05
True
"""

from edgeml.drift._adwin import ADWIN as ADWIN
from edgeml.drift._approx import ks_from_histograms as ks_from_histograms
from edgeml.drift._approx import wasserstein_from_histograms as wasserstein_from_histograms
from edgeml.drift._chi2 import chi2 as chi2
from edgeml.drift._detector import DriftDetector as DriftDetector
from edgeml.drift._error_rate import DDM as DDM
from edgeml.drift._error_rate import HDDM_A as HDDM_A
from edgeml.drift._evaluate import DetectorEvaluation as DetectorEvaluation
from edgeml.drift._evaluate import evaluate_detector as evaluate_detector
from edgeml.drift._js import js as js
from edgeml.drift._ks import ks as ks
from edgeml.drift._mmd import mmd as mmd
from edgeml.drift._page_hinkley import PageHinkley as PageHinkley
from edgeml.drift._psi import psi as psi
from edgeml.drift._report import DriftReport as DriftReport
from edgeml.drift._report import FeatureDrift as FeatureDrift
from edgeml.drift._report import adjust_pvalues as adjust_pvalues
from edgeml.drift._report import compare as compare
from edgeml.drift._result import DriftResult as DriftResult
from edgeml.drift._sketch import Histogram as Histogram
from edgeml.drift._wasserstein import wasserstein as wasserstein

__all__ = [
    "ADWIN",
    "DDM",
    "HDDM_A",
    "DetectorEvaluation",
    "DriftDetector",
    "DriftReport",
    "DriftResult",
    "FeatureDrift",
    "Histogram",
    "PageHinkley",
    "adjust_pvalues",
    "chi2",
    "compare",
    "evaluate_detector",
    "js",
    "ks",
    "ks_from_histograms",
    "mmd",
    "psi",
    "wasserstein",
    "wasserstein_from_histograms",
]
