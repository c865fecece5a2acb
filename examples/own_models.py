"""Your own models through edgekd's Python API, none of them in edgekd's registry.

A MobileNetV3-small teacher (torchvision's where it installs beside the pinned torch, else the same
architecture written below) and a student of your own design are trained on the plant-leaf photos:
the teacher with cross-entropy, the student distilled from it, then pruned to 60 % of its MACs with
distillation recovery, exported to TFLite and ONNX, int8 and fp32 (each with its sidecar), evaluated by
running the files on held-out photos, timed, and gated against a phone app's release budgets.

Run:  .venv/bin/python examples/own_models.py                     (the 70-photo sample in data/plant-sample)
      .venv/bin/python examples/own_models.py --data ../shared/data/plant-mangoleafbd --epochs 60
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

import edgekd

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- the teacher: MobileNetV3-small
def _divisible(v: float, d: int = 8) -> int:
    out = max(d, int(v + d / 2) // d * d)
    return out + d if out < 0.9 * v else out


class SqueezeExcite(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        s = _divisible(c // 4)
        self.pool, self.fc1, self.fc2 = nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, s, 1), nn.Conv2d(s, c, 1)
        self.relu, self.gate = nn.ReLU(inplace=True), nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, k: int, exp: int, c_out: int, se: bool, hs: bool, stride: int) -> None:
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        layers: list[nn.Module] = []
        if exp != c_in:
            layers += [nn.Conv2d(c_in, exp, 1, bias=False), nn.BatchNorm2d(exp), act()]
        layers += [nn.Conv2d(exp, exp, k, stride, k // 2, groups=exp, bias=False), nn.BatchNorm2d(exp), act()]
        if se:
            layers.append(SqueezeExcite(exp))
        layers += [nn.Conv2d(exp, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


# (kernel, expansion, out, squeeze-excite, hard-swish, stride): Howard et al., ICCV 2019, table 2
_SMALL = [(3, 16, 16, True, False, 2), (3, 72, 24, False, False, 2), (3, 88, 24, False, False, 1),
          (5, 96, 40, True, True, 2), (5, 240, 40, True, True, 1), (5, 240, 40, True, True, 1),
          (5, 120, 48, True, True, 1), (5, 144, 48, True, True, 1), (5, 288, 96, True, True, 2),
          (5, 576, 96, True, True, 1), (5, 576, 96, True, True, 1)]


class MobileNetV3Small(nn.Module):
    """MobileNetV3-small (the torchvision layout: stem, 11 bneck blocks, 576-channel conv, 1024-wide head)."""

    def __init__(self, num_classes: int, width: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        c = _divisible(16 * width)
        layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.Hardswish()]
        for k, exp, out, se, hs, stride in _SMALL:
            layers.append(InvertedResidual(c, k, _divisible(exp * width), _divisible(out * width), se, hs, stride))
            c = _divisible(out * width)
        last = _divisible(576 * width)
        layers += [nn.Conv2d(c, last, 1, bias=False), nn.BatchNorm2d(last), nn.Hardswish()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(last, 1024), nn.Hardswish(), nn.Dropout(dropout),
                                        nn.Linear(1024, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def mobilenet_v3_small(num_classes: int) -> tuple[nn.Module, str]:
    """torchvision's MobileNetV3-small when torchvision imports beside this torch, else the class above."""
    try:
        from torchvision.models import mobilenet_v3_small as tv

        return tv(num_classes=num_classes), "torchvision.models.mobilenet_v3_small"
    except Exception as exc:  # PyPI's torchvision does not import beside the pinned torch 2.13 CPU wheel here
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        return MobileNetV3Small(num_classes), f"examples/own_models.py MobileNetV3Small (torchvision: {reason})"


# ---------------------------------------------------------------- the student: your own design
class LeafNet(nn.Module):
    """A small depthwise-separable CNN of the user's own, not in edgekd's registry."""

    def __init__(self, num_classes: int, widths: tuple[int, ...] = (16, 32, 64, 96)) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(c_in, c_in, 3, 2, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in), nn.ReLU(),
                       nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1], num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data" / "plant-sample"), help="a labelled folder of leaf photos")
    ap.add_argument("--out", default=None, help="where the artifacts go (default: a temporary folder)")
    ap.add_argument("--epochs", type=int, default=25, help="training epochs of the teacher and of the student")
    ap.add_argument("--json", action="store_true", help="print the measured artifacts as one JSON object at the end")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="edgekd-own-models-"))
    quiet = {"log": lambda s: None}
    torch.manual_seed(0)

    # 1. data: photos read, validated, split item-wise (capture bursts kept together), through the device front-end;
    # the Prepared goes to every verb as it is: each takes its split, the task, the classes and the positive class
    data = edgekd.prepare(args.data, task="image-classification", seed=0,
                          split={"train": 0.6, "val": 0.2, "test": 0.2, "keep_together_s": 60}, **quiet)
    common = {"seed": 0, "threads": 1, **quiet}

    # 2. the teacher: your own architecture, trained with cross-entropy (any nn.Module works); the verb trains a
    # copy and returns it (the module passed in is left as it was)
    teacher, source = mobilenet_v3_small(len(data.classes))
    print(f"teacher: MobileNetV3-small from {source}, {sum(p.numel() for p in teacher.parameters()):,} parameters")
    trained = edgekd.distill(teacher, train=data, loss="ce", epochs=args.epochs, lr=4e-3, batch_size=16,
                             patience=args.epochs, workdir=out / "teacher", **common)
    print(f"teacher: val score {trained.best_score:.3f} (epoch {trained.best_epoch}, torch-side)")

    # 3. the student: distilled from the trained teacher (Hinton KD; the teacher labels each augmented view)
    student = LeafNet(len(data.classes))
    kd = edgekd.distill(student, teacher=trained.model, train=data, workdir=out / "student",
                        loss={"name": "kd", "params": {"temperature": 4.0, "alpha": 0.3}}, epochs=args.epochs,
                        lr=5e-3, batch_size=16, patience=args.epochs, **common)
    print(f"student: LeafNet, {sum(p.numel() for p in student.parameters()):,} parameters, "
          f"val score {kd.best_score:.3f} (epoch {kd.best_epoch}, torch-side)")

    # 4. prune: whole channels, to 60 % of the MACs, Taylor importance, 3 epochs of KD recovery
    small = edgekd.prune(kd.model, {"macs_ratio": 0.6}, importance="taylor", train=data, teacher=trained.model,
                         recover={"epochs": 3, "lr": 2e-3, "loss": {"name": "kd"}}, batch_size=16,
                         workdir=out / "prune", **common)
    print(f"pruned: {small.before['params']:,} -> {small.after['params']:,} parameters, "
          f"{small.before['macs'] / 1e6:.1f} -> {small.after['macs'] / 1e6:.1f} M MACs")

    # 5. export TFLite and ONNX, int8 and their fp32 twins (the gate's accuracy-drop reference), with sidecars;
    # 6. run each file on the held-out photos (the Prepared's test split) and time it
    records = []
    for fmt in ("tflite", "onnx"):
        for precision in ("fp32", "int8"):
            name = f"leafnet-{fmt}-{precision}.{fmt}"
            art = edgekd.export(small.model.eval(), out / name, precision=precision, calibration=data, val=data,
                                target="x86_64", **quiet)
            ev = edgekd.evaluate(art.path, data, threads=1)
            lat = edgekd.bench(art.path, "x86_64", runs=100, warmup=10)
            records.append(art.measured(ev, lat))
            print(f"{art.path.name}: {art.size_bytes / 1024:.1f} KiB, top-1 {ev.accuracy:.3f} on {ev.n} test photos "
                  f"(balanced {ev.balanced_accuracy:.3f}), p50 {lat.p50_ms:.3f} ms ({lat.runtime}, 1 thread), "
                  f"fully integer: {records[-1]['audit']['fully_integer']}")

    # 7. gate: this app's release budgets (a phone slot of 256 KiB, 20 ms, at most 2 points lost to int8) over the
    # x86_64 profile's, judged on the measured files (each must still be the file that was measured)
    verdict = edgekd.gate(records, {"size_kb": 256, "latency_p90_ms": 20, "accuracy_drop_pp": 2})
    print(f"gate: {'PASSED' if verdict.passed else 'FAILED'} ({len(verdict.checks)} checks on "
          f"{len(records)} files)" + "".join(f"\n  FAIL {c.artifact} {c.budget}: {c.message}" for c in verdict.violations))
    if args.json:
        print(json.dumps({"artifacts": records, "gate": verdict.to_dict()["passed"]}, default=str))
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
