"""Privacy-by-default data minimization: what a policy does not declare is dropped.

This layer is pure numpy (pandas only when the caller passes a DataFrame); it never
imports TensorFlow.
"""
