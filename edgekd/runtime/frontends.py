"""Pick the front-end a task uses: audio (log-mel windows) or image (resize, crop, normalise).

Recipes and artifact sidecars carry ``task`` and the front-end's settings; this
is the one place that maps them to a front-end object, on the training side and
on the device.
"""

from __future__ import annotations

from typing import Any, Mapping, Union

from edgekd.runtime.frontend import AudioFrontend
from edgekd.runtime.image import IMAGE_TASK, ImageFrontend

AUDIO_TASK = "audio-classification"
Frontend = Union[AudioFrontend, ImageFrontend]


def build_frontend(task: str | None, settings: Mapping[str, Any]) -> Frontend:
    """The front-end of ``task`` built from ``settings`` (a recipe's ``frontend`` or a sidecar's).

    A missing task means audio (sidecars written before image support).

    Raises:
        InputError: an unknown task, or a bad setting.
    """
    if task == IMAGE_TASK:
        return ImageFrontend.from_dict(settings)
    if task in (None, AUDIO_TASK):
        return AudioFrontend.from_dict(settings)
    from edgekd.errors import InputError

    raise InputError(f"unknown task {task!r} (known: {AUDIO_TASK}, {IMAGE_TASK})")
