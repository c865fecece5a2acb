"""Benchmark: which plant-student shapes can an int8 file make 2.5x faster than fp32 on this CPU?

The shipped plant student (depthwise-separable, pruned) gains 1.47x from int8 in LiteRT and loses in ONNX
Runtime (``latency_matrix.md``). This times candidate shapes for the same 3x128x128 input, random weights
(latency does not depend on the values), exported fp32 and int8 like every edgekd file (``edgekd.export``,
target x86_64) and timed interleaved with ``latency_matrix``'s harness, 1 thread:

- the shipped student's unpruned shape (depthwise 3x3 + pointwise 1x1 blocks);
- plain 3x3 convolutions, stride 2, widths multiples of 16 (no depthwise);
- a space-to-depth stem (pixel_unshuffle by 4: 48 channels at 32x32), then plain convolutions.

With ``--render``, the accuracy side is added from deploy runs when they exist: the plain 16/32/48/64/96 student
trained like the shipped one (``plant_deploy.py --out runs/plant-plain --set student.model=image_plain_student
--set prune=null``, the shipped student's training settings, not tuned for it) against the shipped student's runs
(``runs/plant-deploy``), each exported file on the 109 test photos.

Writes ``benchmarks/results/plant_int8_shapes.{json,md}``.

Run:  .venv/bin/python benchmarks/plant_int8_shapes.py [--rounds 100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from latency_matrix import Entry, export_all, summarise, time_interleaved  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402

SHAPE = (3, 128, 128)


def _net(layers: list[tuple[int, int, int, int]], unshuffle: int = 0) -> Any:
    """Conv-BN-ReLU6 layers ``(c_in, c_out, stride, groups, kernel)``, after an optional pixel_unshuffle, then a
    fixed-size global average pool and a 7-way classifier."""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unshuffle = unshuffle
            body = []
            for c_in, c_out, stride, groups, k in layers:
                body += [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU6()]
            self.features = nn.Sequential(*body)
            with torch.no_grad():
                h, w = self.features(self._pre(torch.zeros(1, *SHAPE))).shape[2:]
            self.head = nn.Sequential(nn.AvgPool2d((int(h), int(w))), nn.Flatten(), nn.Linear(layers[-1][1], 7))

        def _pre(self, x: Any) -> Any:
            return nn.functional.pixel_unshuffle(x, self.unshuffle) if self.unshuffle else x

        def forward(self, x: Any) -> Any:
            return self.head(self.features(self._pre(x)))

    torch.manual_seed(0)
    return Net().eval()


def candidates() -> list[Entry]:
    dw = [(3, 16, 2, 1, 3)]
    c = 16
    for c_out, stride in ((32, 2), (64, 2), (64, 1), (128, 2), (128, 1), (192, 2)):
        dw += [(c, c, stride, c, 3), (c, c_out, 1, 1, 1)]
        c = c_out
    shapes = {
        "depthwise-separable 16/32/64/64/128/128/192 (the shipped shape, unpruned)": (dw, 0),
        "plain 3x3 stride 2, 16/32/48/64/96": ([(3, 16, 2, 1, 3), (16, 32, 2, 1, 3), (32, 48, 2, 1, 3),
                                                (48, 64, 2, 1, 3), (64, 96, 2, 1, 3)], 0),
        "plain 3x3 stride 2, 16/32/64/64/128": ([(3, 16, 2, 1, 3), (16, 32, 2, 1, 3), (32, 64, 2, 1, 3),
                                                 (64, 64, 2, 1, 3), (64, 128, 2, 1, 3)], 0),
        "space-to-depth 4, then 3x3 64/64/96/128": ([(48, 64, 1, 1, 3), (64, 64, 2, 1, 3), (64, 96, 2, 1, 3),
                                                     (96, 128, 2, 1, 3)], 4),
    }
    return [Entry(f"shape{i}", label, "student", (lambda spec=spec: _net(*spec)), SHAPE)
            for i, (label, spec) in enumerate(shapes.items())]


def render(result: dict) -> str:
    lines = ["# Plant-student shapes: int8 speed-up over fp32 on this CPU (random weights, 1 thread, interleaved)", "",
             f"Command: `{result['command']}`. {result['rounds']} interleaved rounds; p50 over every invoke; speed-up = "
             "median of the per-round fp32/int8 ratios [bootstrap 95 % interval]. Accuracy is not measured here.", "",
             "| shape | runtime | MACs | int8 KB | fp32 p50 ms | int8 p50 ms | int8 speed-up | int8 GMAC/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["summary"]["rows"]:
        lines.append(f"| {r['label']} | {r['runtime']} | {r['macs'] / 1e6:.1f} M | {r['int8']['size_bytes'] / 1024:.1f} | "
                     f"{r['fp32']['p50_ms']:.3f} | {r['int8']['p50_ms']:.3f} | **{r['speedup']:.2f}x** "
                     f"[{r['speedup_ci'][0]:.2f}, {r['speedup_ci'][1]:.2f}] | {r['int8']['gmacs']:.0f} |")
    return "\n".join(lines + render_accuracy(result.get("accuracy") or {})) + "\n"


def accuracy() -> dict:
    """Balanced accuracy and top-1 of each run's exported student files per seed (test photos), where run."""
    import json
    import statistics

    out = {}
    for label, run in (("shipped: depthwise-separable, pruned", "plant-deploy"),
                       ("plain 3x3 16/32/48/64/96, not pruned", "plant-plain")):
        reps = [json.loads(p.read_text()) for p in sorted((ROOT / "runs" / run).glob("s[0-9]/report.json"))]
        for fmt, prec in (("tflite", "int8"), ("onnx", "int8"), ("tflite", "fp32")):
            rows = [a for r in reps for a in r["artifacts"]
                    if (a["role"], a["format"], a["precision"], a["target"]) == ("student", fmt, prec, "x86_64")]
            if len(rows) >= 2:
                bal = [a["metrics"]["balanced_accuracy"] for a in rows]
                top1 = [a["metrics"]["accuracy"] for a in rows]
                out.setdefault(label, {})[f"{fmt}-{prec}"] = {
                    "balanced_accuracy": bal, "top1": top1, "n": rows[0]["metrics"]["n"],
                    "mean_bal": statistics.mean(bal), "sd_bal": statistics.stdev(bal),
                    "size_kb": rows[0]["size_bytes"] / 1024}
    return out


def render_accuracy(acc: dict) -> list[str]:
    if not acc:
        return []
    lines = ["", "## Trained (3 seeds, exported files on the 109 test photos)", "",
             "| student | file | KB | balanced accuracy per seed | mean ± sd | top-1 per seed |", "|---|---|---:|---|---:|---|"]
    for label, per in acc.items():
        for k, v in per.items():
            lines.append(f"| {label} | {k} | {v['size_kb']:.1f} | {', '.join(f'{x:.3f}' for x in v['balanced_accuracy'])} | "
                         f"{v['mean_bal']:.3f} ± {v['sd_bal']:.3f} | {', '.join(f'{x:.3f}' for x in v['top1'])} |")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--out", default=str(ROOT / "runs" / "plant-int8-shapes"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--render", action="store_true", help="re-render the md from the JSON, adding the trained runs")
    args = ap.parse_args(argv)
    if args.render:
        import json

        stored = json.loads((Path(args.results) / "plant_int8_shapes.json").read_text())
        stored["accuracy"] = accuracy()
        write_json(Path(args.results) / "plant_int8_shapes.json", stored)
        write_text(Path(args.results) / "plant_int8_shapes.md", render(stored))
        return 0

    def log(s: str) -> None:
        print(s, file=sys.stderr, flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = export_all(candidates(), out, log, fmts=["tflite", "onnx"])
    time_interleaved(files, args.rounds, log)
    summary = summarise(files)
    for f in files:
        f.pop("times_ms")
    result = {"command": "python benchmarks/plant_int8_shapes.py" + (f" --rounds {args.rounds}" if args.rounds != 100 else ""),
              "rounds": args.rounds, "summary": summary, "files": files}
    write_json(Path(args.results) / "plant_int8_shapes.json", result)
    write_text(Path(args.results) / "plant_int8_shapes.md", render(result))
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
