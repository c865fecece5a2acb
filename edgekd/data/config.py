"""Typed data settings shared by recipes and the Python API: how items are split."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class SplitSpec(BaseModel):
    """Item-wise train/val/test fractions, the split's seed, and what keeps items together."""

    model_config = ConfigDict(extra="forbid")
    train: float = 0.6
    val: float = 0.2
    test: float = 0.2
    # Seed of the item-wise split; None: the run's seed. Fix it to vary training seeds on one split.
    seed: Optional[int] = None
    # Images: photos of one class taken less than this many seconds apart (a capture burst, usually the
    # same leaf) stay in one split; capture time from the file name's YYYYMMDD_HHMMSS or EXIF. None: off.
    keep_together_s: Optional[float] = Field(None, gt=0)

    def fractions(self) -> dict[str, float]:
        return {"train": self.train, "val": self.val, "test": self.test}


Stratum = Literal["label", "group"]
