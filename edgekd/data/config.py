"""Typed data settings shared by recipes and the Python API: how items are split."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError


class SplitSpec(BaseModel):
    """Item-wise train/val/test fractions, the split's seed, and what keeps items together."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    train: float = 0.6
    val: float = 0.2
    test: float = 0.2
    # Seed of the item-wise split; None: the run's seed. Fix it to vary training seeds on one split.
    seed: Optional[int] = Field(None, ge=0, lt=2**32)
    # Images: photos of one class taken less than this many seconds apart (a capture burst, usually the
    # same leaf) stay in one split; capture time from the file name's YYYYMMDD_HHMMSS or EXIF. None: off.
    keep_together_s: Optional[float] = Field(None, gt=0)
    # `random`: a seeded stratified split. `time`: within each stratum the latest `test` share of the items (by
    # capture time) is the test split and the next-latest `val` share validation, so the score says how the model
    # does on captures made after everything it trained on (photos: file-name stamp or EXIF). The cut is exact
    # (keep_together_s is not used): validation lies between train and test in time, so a burst cut at a
    # boundary shares shots between val and test or train and val, never between train and test.
    by: Literal["random", "time"] = "random"
    # A CSV (`file,split`, split one of train/val/test) that assigns every item by name: an official split, or
    # one that keeps a pretrained teacher's training items out of test. The fractions and seed are then unused.
    file: Optional[str] = None

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> "SplitSpec":
        """The same rule the split itself applies (``edgekd.data.splits``), here so that ``run --check`` and every
        reader of a recipe refuse what ``run`` would refuse, before any work."""
        if self.file is None:
            f = self.fractions()
            total = sum(f.values())
            if not all(0 < v < float("inf") for v in f.values()) or abs(total - 1.0) > 1e-6:
                raise PydanticCustomError("split_fractions", "train, val and test must be positive fractions "
                                          "summing to 1; these sum to {total}", {"total": f"{total:g}"})
        return self

    def fractions(self) -> dict[str, float]:
        return {"train": self.train, "val": self.val, "test": self.test}


Stratum = Literal["label", "group"]
