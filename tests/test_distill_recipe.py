"""``student.distill`` in a recipe: typed method parameters, checked before any work."""

from pathlib import Path

import numpy as np
import pytest

from edgekd.errors import InputError
from edgekd.recipe import load_recipe

pytest.importorskip("torch")
from edgekd.distillation.methods import DistillMethod  # noqa: E402
from edgekd.distillation.objective import build_objective, check_objective  # noqa: E402

HEART = Path(__file__).resolve().parent.parent / "recipes" / "heart.yaml"


def test_misspelled_method_parameter_names_the_key_and_suggests():
    r = load_recipe(HEART, ["student.distill={method: feature, params: {pairs: [{student: a, teacher: b}], kindd: at}}"])
    with pytest.raises(InputError, match=r"student\.distill\.params.*'kindd'.*did you mean 'kind'"):
        check_objective(r.student, where="student")


def test_unknown_method_is_named():
    r = load_recipe(HEART, ["student.distill={method: fitnet}"])
    with pytest.raises(InputError, match="unknown distillation method 'fitnet'"):
        check_objective(r.student, where="student")


def test_missing_checkpoint_of_a_method_is_named(tmp_path):
    missing = tmp_path / "nope.pt"
    r = load_recipe(HEART, [f"student.distill={{method: multi_teacher, params: {{teachers: [{{checkpoint: {missing}}}]}}}}"])
    with pytest.raises(InputError, match=r"student\.distill\.params\.teachers\[0\]\.checkpoint: .*nope.pt: file not found"):
        check_objective(r.student, where="student")


def test_teacher_cannot_be_distilled():
    r = load_recipe(HEART, ["teacher.distill={method: mixup}"])
    with pytest.raises(InputError, match="teacher.distill"):
        check_objective(r.teacher, where="teacher")


def test_objective_is_a_method_when_distill_is_set_and_a_loss_otherwise():
    y = np.array([0, 0, 0, 1])
    plain = load_recipe(HEART, ["student.distill=null"])
    assert not isinstance(build_objective(plain.student, y, 2, where="student"), DistillMethod)
    mixup = load_recipe(HEART, ["student.distill={method: mixup, params: {alpha: 0.2}}"])
    method = build_objective(mixup.student, y, 2, where="student")
    assert isinstance(method, DistillMethod) and method.params.alpha == 0.2
