"""Image classification: labelled photos → one normalised crop each → one prediction per photo.

The reader (``edgekd.data.images``) validates the folder (class folders hold only
images, every class has photos); the front-end (``edgekd.runtime.image``,
numpy + Pillow, also on the device) decodes, orients, validates and crops each
photo. Training batches get crops, flips, rotations and colour jitter
(``data.augment``, ``ImageAugmentSpec``). Capture bursts (shots of one class
taken seconds apart, usually one leaf) can be kept in one split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from edgekd.data.image_augment import ImageAugment, ImageAugmentSpec
from edgekd.data.items import Item
from edgekd.tasks.base import TASKS, Augmentation, Task


@TASKS.register("image-classification")
class ImageClassification(Task):
    """Photos (JPEG, PNG, ...) classified from one centre crop each."""

    name = "image-classification"
    frontend_kind = "image"
    Augment = ImageAugmentSpec
    aggregation = "mean"
    description = "photos -> resized centre crop (numpy + Pillow front-end), geometric and colour augmentation"

    def list_items(self, root: str | Path, classes: Sequence[str]) -> list[Item]:
        from edgekd.data.images import list_images

        return list_images(root, list(classes))

    def augmentation(self) -> Optional[Augmentation]:
        return ImageAugment(self.augment, self.frontend.mean, self.frontend.std)

    def capture_times(self, items: Sequence[Item]) -> list[float]:
        from edgekd.data.images import capture_time
        from edgekd.errors import InputError

        out = []
        for it in items:
            t = capture_time(it)
            if t is None:
                raise InputError(f"{it.path}: no capture time (neither a YYYYMMDD_HHMMSS file name nor EXIF "
                                 "DateTimeOriginal); data.split.by: time needs one for every photo")
            out.append(t.timestamp())
        return out

    def split_groups(self, items: Sequence[Item], keep_together_s: Optional[float]) -> Optional[list[str]]:
        if not keep_together_s:
            return None
        from edgekd.data.images import capture_bursts

        return capture_bursts(list(items), keep_together_s)
