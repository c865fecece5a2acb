"""What one stage needs of another, handed over by the API: the stages (distillation, pruning, quantize,
exporting) never import each other (``.importlinter``), so the verbs pass the pieces in."""

from __future__ import annotations

from typing import Any


def pruning_exporters() -> Any:
    """The export stage's int8 TFLite exporter and backend chooser, for pruning's size model and latency tables.

    Example:
        >>> callable(pruning_exporters().choose_backend)
        True
    """
    from edgekd.exporting import EXPORTERS
    from edgekd.exporting.backends import choose_backend
    from edgekd.pruning.budget import Exporters

    return Exporters(int8_tflite=EXPORTERS.get("tflite-int8"), choose_backend=choose_backend)
