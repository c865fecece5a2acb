"""Model architectures, found by name in ``MODELS`` (importing this imports torch)."""

from edgekd.models.registry import MODELS, build_model
from edgekd.models import heart_cnn  # noqa: F401  (registers the heart-sound models)
from edgekd.models import heart_res  # noqa: F401  (the residual student of the quantization audit)
from edgekd.models import heart_tcn  # noqa: F401  (the temporal-convolution student shaped for SIMD)
from edgekd.models import image_cnn  # noqa: F401  (registers the leaf-photo models)
from edgekd.models import efficientnet_lite  # noqa: F401  (EfficientNet-Lite0, ImageNet-pretrained on request)

__all__ = ["MODELS", "build_model"]
