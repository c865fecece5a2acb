"""Model architectures, found by name in ``MODELS`` (importing this imports torch)."""

from edgekd.models.registry import MODELS, build_model
from edgekd.models import heart_cnn  # noqa: F401  (registers the heart-sound models)

__all__ = ["MODELS", "build_model"]
