"""edgekd: distil, prune, quantize and export a PyTorch model for a device, and measure the artifact.

Importing the package is cheap: torch, TensorFlow and the runtimes are imported
lazily, inside the functions that need them.
"""

__version__ = "0.1.0"
