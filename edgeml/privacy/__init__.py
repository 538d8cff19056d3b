"""Differential privacy: accounting, DP aggregates, DP-SGD for Keras and membership audits.

``edgeml.privacy.accounting`` and ``edgeml.privacy.mechanisms`` need no TensorFlow;
only DP-SGD (``edgeml.privacy.dpsgd``) does, and it is imported on first use.
"""
