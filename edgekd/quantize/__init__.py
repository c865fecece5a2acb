"""Quantization helpers shared by the backends (calibration data selection)."""
