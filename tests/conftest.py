"""Shared fixtures: a tiny trained spectrogram CNN and its four exported artifacts.

The student is trained for a few steps on a synthetic two-class task (a band of
energy in the low vs. the high mel bins) so its logits separate the classes and
int8 argmax agreement means something. Exports run once per session.

torch is imported inside the fixtures: the device environment (numpy + a
runtime, no torch) loads this file too when it runs the ``device`` tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

def pytest_configure(config: Any) -> None:
    """Pin an xdist worker to a CPU of its own, then import torch (where installed) before any test captures
    output: torch's log handlers bind the stderr of the moment they are made, and one made inside a test writes to
    a closed stream in every later test.

    Pinned, a worker and the commands it starts see one CPU (edgekd sizes its training and runtime threads by the
    CPUs a process may use), so two workers never run four threads on two cores."""
    import os

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        if len(cpus) >= workers > 1:
            os.sched_setaffinity(0, {cpus[int(worker[2:]) % len(cpus)]})
    try:
        import torch  # noqa: F401
    except ImportError:  # the device environment has no torch
        pass


# `make test` runs the suite on two pytest-xdist workers (`--dist loadgroup`). A group is what one worker runs:
# a test file (its module fixtures are made once), the files sharing the session's heart run (made once), or one
# test of the self-contained end-to-end files. Groups go out slowest first (from `--durations` of a full run), so
# no worker is left alone with a long test at the end.
SHARED_GROUPS = {"test_bundle": "heart-run", "test_conformance": "heart-run", "test_pipeline_e2e": "heart-run"}
PER_TEST_FILES = {"test_sweep_e2e"}
SLOW_FIRST = ("test_sweep_e2e", "test_demo", "heart-run", "test_hostile_sweep", "test_fail_closed",
              "test_prune_hardware", "test_examples", "test_prune_pipeline", "test_bench_ssh", "test_api_compress",
              "test_pte", "test_plugin_example", "test_readme", "test_sweep")


def _group(nodeid: str) -> str:
    """The group of a test id such as ``tests/test_bundle.py::test_x[rpi4]``."""
    module = Path(nodeid.split("::")[0]).stem
    if module in PER_TEST_FILES:
        return f"{module}::{nodeid.split('::', 1)[-1]}"
    return SHARED_GROUPS.get(module, module)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which the device environment does not have
def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
    """``--dist loadgroup`` by the groups above. (xdist's own loadgroup renames ``item._nodeid``, which pytest 9
    no longer reads, so its ``xdist_group`` marks would split a file across workers.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: Any, items: list) -> None:
    """Put the slow groups first (a stable sort: the order within a group is kept)."""
    def rank(item: Any) -> int:
        group = _group(item.nodeid).split("::")[0]
        return SLOW_FIRST.index(group) if group in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)


SHAPE = (1, 32, 188)  # (C, mel bins, frames)
EXPORT_KEYS = ("onnx-fp32", "onnx-int8", "tflite-fp32", "tflite-int8")


def spectrograms(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic log-mel-like windows ``(n, 1, 32, 188)`` float32 and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.normal(0.0, 0.5, (n, *SHAPE)).astype(np.float32)
    for i, label in enumerate(labels):
        low = 4 if label == 0 else 20
        x[i, 0, low : low + 6] += rng.uniform(0.8, 1.6)
    return x, labels


def tiny_student(widths: tuple[int, ...] = (16, 32, 64), classes: int = 2) -> Any:
    """Conv-BN-ReLU-MaxPool x3, global average pool, Linear (about 23.5k weights)."""
    from torch import nn

    layers: list[nn.Module] = []
    cin = SHAPE[0]
    for width in widths:
        conv = nn.Conv2d(cin, width, 3, padding=1, bias=False)
        layers += [conv, nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
        cin = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


@pytest.fixture(scope="session")
def student() -> Any:
    """The trained student, in eval mode."""
    import torch

    torch.manual_seed(0)
    model = tiny_student()
    x, y = spectrograms(192, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(12):
        batch = slice(step * 16, step * 16 + 16)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[batch])), torch.from_numpy(y[batch]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="session")
def example() -> Any:
    import torch

    return torch.zeros(1, *SHAPE)


@pytest.fixture(scope="session")
def calibration() -> np.ndarray:
    """64 representative windows (seeded)."""
    return spectrograms(64, seed=1)[0]


@pytest.fixture(scope="session")
def exported(student, example, calibration, tmp_path_factory) -> dict[str, Path]:
    """The four artifacts of ``student``, exported once: export key → path."""
    from edgekd.exporting import EXPORTERS

    folder = tmp_path_factory.mktemp("artifacts")
    return {
        key: EXPORTERS.get(key)(student, example, folder / f"student-{key}.{key.split('-')[0]}", calibration)
        for key in EXPORT_KEYS
    }


HEART_TARGETS = ("x86_64", "rpi4", "cortex-m55-ethos-u55")


@pytest.fixture(scope="session")
def heart_run(tmp_path_factory) -> Path:
    """`edgekd run recipes/heart.yaml` on the bundled recordings (the shipped teacher, 2 student epochs) for x86_64, rpi4 and the
    Cortex-M55/Ethos-U55 MCU: the run folder. No Pi is at hand, so rpi4 runs with its profile's estimate
    coefficients (a copy of targets/rpi4.yaml whose runner is ``estimate``)."""
    import os

    import yaml

    from edgekd.cli import main

    root = Path(__file__).resolve().parent.parent
    out = tmp_path_factory.mktemp("heart-run")
    profiles = tmp_path_factory.mktemp("targets")
    rpi4 = yaml.safe_load((root / "targets" / "rpi4.yaml").read_text())
    rpi4["runner"] = {"kind": "estimate"}
    (profiles / "rpi4.yaml").write_text(yaml.safe_dump(rpi4, sort_keys=False))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGEKD_TARGETS", str(profiles))
        mp.chdir(root)  # the recipe's data path is relative to the repository
        code = main([
            "run", str(root / "recipes" / "heart.yaml"), "--out", str(out),
            "--set", "student.train.epochs=2", "--set", "bench.runs=20", "--set", "bench.warmup=2",
            "--set", f"export.targets=[{', '.join(HEART_TARGETS)}]",
            "--set", f"data.cache_dir={out / 'cache'}",
        ])
    assert code == 0
    return out
