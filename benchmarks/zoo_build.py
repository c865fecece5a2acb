"""Export the latency zoo (``benchmarks/zoo_models.py``): every model as TFLite and ONNX, fp32 and int8.

Each zoo model (random weights, eval mode) goes through ``edgekd.export`` four times, with a zero example and,
for int8, 32 random-normal calibration examples (numpy float32, seed 0), into

    OUT/NAME/tflite/{fp32,int8}.tflite    OUT/NAME/onnx/{fp32,int8}.onnx

each with its sidecar ``fp32.edgekd.json`` / ``int8.edgekd.json`` beside it. The formats get a folder each
because a sidecar is named after the file's stem (``fp32.tflite`` and ``fp32.onnx`` in one folder would share,
and overwrite, one ``fp32.edgekd.json``, which says the input layout the runners feed: NHWC for TFLite,
NCHW for ONNX).

Resumable: a file that exists together with its sidecar is not exported again (its earlier record is kept).
One progress line per file (model, file, seconds); a failed export is recorded with its error's first line
and the build goes on. After every model the manifest ``OUT/zoo.json`` is rewritten atomically: the
torch/edgekd versions and the host's CPU at the top, then per model ``name, family, input_shape, params, macs``
(``edgekd.models.complexity``) and per file ``path`` (relative to OUT), ``format``, ``precision``,
``size_bytes``, ``export_s`` or ``error``.

``--set fresh`` builds the held-out set (``zoo_models.fresh()``, 12 architectures the estimator's tuning never saw)
instead of the zoo; its default output folder is runs/latency-zoo-fresh.

Run:  .venv/bin/python benchmarks/zoo_build.py [--set {zoo,fresh}] [--out runs/latency-zoo] [--only NAME ...] [--list]
      [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402

import edgekd  # noqa: E402
from edgekd.models.complexity import count_macs, count_params  # noqa: E402
from zoo_models import ZooModel, fresh, zoo  # noqa: E402

FILES = (("tflite", "fp32"), ("tflite", "int8"), ("onnx", "fp32"), ("onnx", "int8"))
N_CAL = 32


def host_cpu() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else ``platform.processor()``, else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_manifest(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to a temporary file beside ``path``, then ``os.replace`` it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:500]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def reset_torch_state() -> None:
    """Drop torch.export/dynamo caches and garbage between models (a long process holds many exported graphs)."""
    try:
        torch._dynamo.reset()
    except Exception:  # noqa: BLE001 - an optimisation only
        pass
    gc.collect()


def rel(p: Path, out: Path) -> str:
    return p.relative_to(out).as_posix()


def build_one(z: ZooModel, out: Path, previous: dict) -> dict:
    """Export one zoo model's four files (skipping those already there); its manifest record."""
    record = {"name": z.name, "family": z.family, "input_shape": list(z.input_shape)}
    old_files = {f.get("path"): f for f in previous.get("files", [])}
    try:
        t0 = time.perf_counter()
        model = z.build().eval()
        record["build_s"] = round(time.perf_counter() - t0, 3)
        record["params"] = count_params(model)
        record["macs"] = count_macs(model, tuple(z.input_shape))  # one example's shape: it adds the batch of one
    except Exception as exc:  # noqa: BLE001 - a model that cannot be built is recorded, the zoo goes on
        record["error"] = first_line(exc)
        print(f"{z.name:34s} build FAILED: {record['error']}", flush=True)
        return record
    example = torch.zeros(1, *z.input_shape)
    calibration = np.random.default_rng(0).standard_normal((N_CAL, *z.input_shape)).astype(np.float32)
    files = []
    for fmt, precision in FILES:
        path = out / z.name / fmt / f"{precision}.{fmt}"
        sidecar = path.with_suffix(".edgekd.json")
        entry = {"path": rel(path, out), "format": fmt, "precision": precision}
        if path.is_file() and sidecar.is_file():
            old = old_files.get(entry["path"], {})
            entry.update(size_bytes=path.stat().st_size, export_s=old.get("export_s"))
            files.append(entry)
            print(f"{z.name:34s} {entry['path']:40s} exists, skipped", flush=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        try:
            edgekd.export(model, path, precision=precision, example=example,
                          calibration=calibration if precision == "int8" else None, log=lambda s: None)
            entry.update(size_bytes=path.stat().st_size, export_s=round(time.perf_counter() - t0, 3))
            print(f"{z.name:34s} {entry['path']:40s} {entry['export_s']:7.1f} s", flush=True)
        except Exception as exc:  # noqa: BLE001 - a converter failure is recorded, the zoo goes on
            entry.update(error=first_line(exc), export_s=round(time.perf_counter() - t0, 3))
            print(f"{z.name:34s} {entry['path']:40s} {entry['export_s']:7.1f} s FAILED: {entry['error']}", flush=True)
        files.append(entry)
        gc.collect()
    record["files"] = files
    return record


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", dest="which", choices=("zoo", "fresh"), default="zoo",
                    help="which list to build: the zoo (default) or the fresh held-out set (zoo_models.fresh())")
    ap.add_argument("--out", help="output folder (default runs/latency-zoo, or runs/latency-zoo-fresh with --set fresh)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="export only these zoo models")
    ap.add_argument("--list", action="store_true", help="list the zoo (name, family, input shape) and exit")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core machine two threads made the int8 TFLite "
                         "calibration 5-8x slower whenever another process ran; the files do not depend on it)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, args.threads))

    models = fresh() if args.which == "fresh" else zoo()
    names = [z.name for z in models]
    if len(set(names)) != len(names):
        raise SystemExit("zoo_models: duplicate model names")
    if args.list:
        for z in models:
            print(f"{z.name:34s} {z.family:18s} {tuple(z.input_shape)}")
        print(f"{len(models)} models, {len(models) * len(FILES)} files")
        return 0
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            raise SystemExit(f"unknown zoo model(s): {', '.join(unknown)} (see --list)")
        chosen = [z for z in models if z.name in set(args.only)]
    else:
        chosen = models

    out = Path(args.out or ROOT / "runs" / ("latency-zoo-fresh" if args.which == "fresh" else "latency-zoo")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "zoo.json"
    previous: dict = {}
    if manifest_path.is_file():
        try:
            previous = {m["name"]: m for m in json.loads(manifest_path.read_text(encoding="utf-8")).get("models", [])}
        except (ValueError, KeyError, TypeError):
            previous = {}
    manifest = {
        "schema": "edgekd.latency-zoo/1",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "edgekd": edgekd.__version__,
        "host": {"cpu": host_cpu(), "processor": platform.processor(), "machine": platform.machine(),
                 "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "set": args.which,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "calibration": {"examples": N_CAL, "distribution": "standard normal", "dtype": "float32", "seed": 0},
        "layout": "NAME/{tflite,onnx}/{fp32,int8}.{tflite,onnx}, each with its NAME.edgekd.json sidecar",
        "models": [],
    }
    records = dict(previous)
    start = time.perf_counter()
    for i, z in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {z.name} ({z.family}, {tuple(z.input_shape)})", flush=True)
        records[z.name] = build_one(z, out, previous.get(z.name, {}))
        # zoo order; models no longer in the zoo but in an earlier manifest are dropped
        manifest["models"] = [records[n] for n in names if n in records]
        manifest["build_s"] = round(time.perf_counter() - start, 1)
        write_manifest(manifest_path, manifest)
        reset_torch_state()

    done = [m for m in manifest["models"] if m["name"] in {z.name for z in chosen}]
    files = [f for m in done for f in m.get("files", [])]
    ok = [f for f in files if "error" not in f]
    failed = [(m["name"], f["path"], f["error"]) for m in done for f in m.get("files", []) if "error" in f]
    failed += [(m["name"], "(build)", m["error"]) for m in done if "error" in m]
    macs = [m["macs"] for m in done if "macs" in m]
    print(f"\n{len(done)} models, {len(ok)}/{len(files)} files exported in {time.perf_counter() - start:.0f} s"
          + (f"; MACs {min(macs) / 1e6:.2f}-{max(macs) / 1e6:.1f} M" if macs else "") + f"; manifest {manifest_path}")
    for name, path, err in failed:
        print(f"  FAILED {name} {path}: {err}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
