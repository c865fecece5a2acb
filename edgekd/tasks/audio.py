"""Audio classification: labelled WAV recordings → log-mel windows → one prediction per recording.

The reader (``edgekd.data.recordings``) knows PhysioNet-style folders: the source
database of each recording (``manifest.csv`` or the record-name prefix) is its
group, so splits are stratified by it and metrics reported per database. The
front-end is ``edgekd.runtime.frontend.AudioFrontend`` (numpy, also on the
device); training batches get SpecAugment masking (``data.augment``:
``{enabled, freq_fraction, time_fraction}``). Window probabilities are averaged
per recording.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from edgekd.data.items import Item
from edgekd.data.spec_augment import SpecAugment, SpecAugmentSpec
from edgekd.tasks.base import TASKS, Augmentation, Task


@TASKS.register("audio-classification")
class AudioClassification(Task):
    """Recordings (``.wav``, mono, at the front-end's rate) classified from 2-D log-mel windows."""

    name = "audio-classification"
    frontend_kind = "logmel"
    Augment = SpecAugmentSpec
    aggregation = "mean"
    description = "WAV recordings -> log-mel windows (numpy front-end), SpecAugment, mean window probability"

    def list_items(self, root: str | Path, classes: Sequence[str]) -> list[Item]:
        from edgekd.data.recordings import list_recordings

        return list_recordings(root, list(classes), self.frontend.extensions)

    def augmentation(self) -> Optional[Augmentation]:
        return SpecAugment(self.augment) if self.augment.enabled else None
