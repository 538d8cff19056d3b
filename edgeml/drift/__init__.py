"""Drift statistics as small composable functions, streaming detectors and mergeable sketches.

Pure numpy/scipy: runs on a device, in a notebook or on a server, without TensorFlow.

Examples
--------
>>> import numpy as np
>>> import edgeml.drift as drift
>>> rng = np.random.default_rng(0)
>>> statistic, pvalue = drift.ks(rng.normal(size=300), rng.normal(size=300))
>>> pvalue > 0.05
True
"""

from edgeml.drift._approx import ks_from_histograms as ks_from_histograms
from edgeml.drift._approx import wasserstein_from_histograms as wasserstein_from_histograms
from edgeml.drift._binned import chi2 as chi2
from edgeml.drift._binned import js as js
from edgeml.drift._binned import psi as psi
from edgeml.drift._detectors import ADWIN as ADWIN
from edgeml.drift._detectors import DDM as DDM
from edgeml.drift._detectors import HDDM_A as HDDM_A
from edgeml.drift._detectors import DriftDetector as DriftDetector
from edgeml.drift._detectors import PageHinkley as PageHinkley
from edgeml.drift._evaluate import DetectorEvaluation as DetectorEvaluation
from edgeml.drift._evaluate import evaluate_detector as evaluate_detector
from edgeml.drift._ks import ks as ks
from edgeml.drift._mmd import mmd as mmd
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
