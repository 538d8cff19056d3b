"""Drift statistics as small composable functions, streaming detectors and mergeable sketches.

Pure numpy/scipy: runs on a device, in a notebook or on a server, without TensorFlow.
"""
