"""Run ``.tflite`` models on a device through LiteRT, without TensorFlow."""
