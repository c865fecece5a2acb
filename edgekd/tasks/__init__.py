"""Tasks: audio, image and tensor classification, and plugins' (``edgekd.tasks`` entry points).

Importing this package registers the built-in tasks; torch is imported only by
a task's training augmentation, when it runs.
"""

from edgekd.tasks.base import TASKS, NoAugment, Task, build_task
from edgekd.tasks import audio, image, tensor  # noqa: F401,E402  (register the built-in tasks)

__all__ = ["TASKS", "NoAugment", "Task", "build_task"]
