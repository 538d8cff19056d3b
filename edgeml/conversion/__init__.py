"""Conversion of Keras models and SavedModels to TensorFlow Lite / LiteRT, with quantization.

The converter needs the ``tf`` extra; it is imported on first use.
"""
