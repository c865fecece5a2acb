"""Torch-side inference of any model on an array of windows (eval mode, no grad, in batches)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def predict_logits(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits of ``model`` for every row of ``x`` (the model is put in eval mode)."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out.append(model(torch.from_numpy(x[i : i + batch_size])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
