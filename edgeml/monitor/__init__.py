"""Prometheus metrics for models and drift (extra ``monitor``)."""
