"""The ``edgekd`` command line. Stays fast: each command imports what it needs when it runs.

Exit codes: 0 ok · 1 a gate/budget failed · 2 bad usage, recipe or input · 3 a backend failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from edgekd import __version__
from edgekd.errors import EdgekdError, InputError


def _quiet_backends() -> None:
    """Keep the backends' import chatter and deprecation notices out of the user's terminal (``--verbose``
    shows them). What native code writes to descriptor 2 is held back by ``edgekd.runtime.native_log``."""
    import logging
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch|torchao|tensorflow|tf_keras|onnx|"
                            r"onnxscript|litert_torch|ai_edge_litert|nncf|executorch)(\.|$)")
    for name in ("torch.onnx", "torch.utils._pytree", "torch.onnx._internal.exporter._registration", "torchao",
                 "absl", "tensorflow", "onnxscript", "nncf"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cmd_run(args: argparse.Namespace) -> int:
    from edgekd.pipeline import run
    from edgekd.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.set)
    if args.check:
        from edgekd.pipeline import check_run

        print(check_run(recipe))
        return 0
    out = Path(args.out) if args.out else Path("runs") / recipe.name
    run(recipe, args.recipe, out, fresh=args.fresh)
    print(out / "report.md")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else None
    if args.export_best:
        from edgekd.errors import InputError
        from edgekd.sweep.best import export_best

        if out is None:
            raise InputError("--export-best: give --out, the sweep's folder (its sweep.json)")
        row, dest = export_best(out, Path(args.export_best), args.pick)
        f = row["figures"]
        print(f"{dest}: trial {row['number']} ({f['metric_name']} {f['metric']:.3f} on validation, {f['size_kb']:.1f} KiB, "
              f"p90 {f['latency_p90_ms']:.3f} ms); re-run it with: edgekd run {dest}")
        return 0
    if not args.space:
        from edgekd.errors import InputError

        raise InputError("--space: give the search space file (or --export-best FILE with --out)")
    from edgekd.sweep.search import sweep

    result = sweep(args.recipe, args.space, overrides=args.set, trials=args.trials, timeout=args.timeout,
                   storage=args.storage, study=args.study, out=out, resume=args.resume,
                   connect_timeout=args.connect_timeout)
    s = result.summary
    for r in result.front:
        f, test = r["figures"], r.get("test") or {}
        scored = f"test {test['metric']:.3f} (n={test.get('n')})" if "metric" in test else test.get("skipped", "")
        print(f"front: trial {r['number']}{' (recipe)' if r['baseline'] else ''}: {json.dumps(r['parameters'])} -> "
              f"val {f['metric']:.3f}, {f['size_kb']:.1f} KiB, p90 {f['latency_p90_ms']:.3f} ms; {scored}")
    print(f"{result.out / 'sweep.json'} ({', '.join(f'{k.lower()} {v}' for k, v in s['counts'].items())}); "
          f"{result.out / 'report.html'}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from edgekd.api.evaluating import evaluate
    from edgekd.runtime.sidecar import item_noun, read_sidecar

    noun = item_noun(read_sidecar(args.artifact).get("task"))

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{done}/{total} {noun}", end="" if done < total else "\n", file=sys.stderr)

    from edgekd.inputfile import existing_folder  # the verb also takes arrays; the command, a folder

    existing_folder(args.data, "--data")  # refused by its kind: missing, a file, a FIFO, a socket, a device
    result = evaluate(args.artifact, args.data, threads=args.threads, resample=args.resample, progress=progress,
                      items=args.items).to_dict()
    if args.json:
        print(json.dumps(result))
    else:
        for it in result.get("items", []):
            print(f"  {it['file']}: {it['predicted']} (true {it['label']}, p={max(it['probabilities']):.3f})")
        ci = result.get("ci95") or {}

        def with_ci(key: str) -> str:
            pair = ci.get(key)
            return f"{result[key]:.3f}" + (f" [{pair[0]:.3f}, {pair[1]:.3f}]" if pair and None not in pair else "")

        print(f"{result['artifact']}: {result['n']} {noun}, accuracy {with_ci('accuracy')}, "
              f"balanced accuracy {with_ci('balanced_accuracy')}  (95 % intervals)")
        if "macc" in result:
            print(f"  sensitivity {with_ci('sensitivity')}  specificity {with_ci('specificity')}  "
                  f"MAcc {with_ci('macc')}  (positive: {result['positive']})")
        print(f"  confusion (rows true {result['labels']}): {result['confusion']}")
        if result.get("runtime_env"):
            print(f"  run with {result['runtime']} in the {result['runtime_env']} environment")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from edgekd.api.evaluating import bench

    result = bench(args.artifact, args.target or None, runs=args.runs, warmup=args.warmup, threads=args.threads,
                   max_seconds=args.max_seconds, cv_target=args.cv_target, timeout=args.timeout,
                   runner=args.runner, items=args.items, data=args.data, calibration=args.calibration).to_dict()
    if result.get("calibration_mismatch"):
        print(f"warning: the estimate uses a calibration taken on another device identity "
              f"({result['calibration']['file']}): {'; '.join(result['calibration_mismatch'])}", file=sys.stderr)
    parity = result.get("parity") or {}
    failed = parity.get("passed") is False  # the ARM build of the runtime disagrees with x86: a failed check
    if args.json:
        print(json.dumps(result))
        return 1 if failed else 0
    if result.get("estimated"):
        tag = " [ESTIMATED, not measured]"
    elif result.get("emulated"):
        tag = " [EMULATED under qemu: the latency means nothing for the device]"
    else:
        tag = "" if result["runner"] == "local" else f" [measured by the {result['runner']} runner]"
        if result.get("arch_mismatch"):
            print(f"warning: {result['arch_mismatch']}", file=sys.stderr)
    if result.get("runtime_env"):
        tag += f" [{result['runtime_env']} environment]"
    print(f"{result['artifact']} on {result['runtime']} {result['runtime_version']} ({result['threads']} threads)"
          f"{tag}: p50 {result['p50_ms']:.3f} ms  p90 {result['p90_ms']:.3f} ms  p99 {result['p99_ms']:.3f} ms  "
          f"cv {result['cv']:.3f}  ({result['runs']} runs after {result['warmup']} warm-up)")
    if result.get("peak_rss_kb"):
        print(f"  peak RSS {result['peak_rss_kb'] / 1024:.1f} MiB (whole process)")
    if result.get("method"):
        print(f"  how: {result['method']}")
    for line in frontend_lines(result):
        print(line)
    if parity:
        verdict = "passed" if parity.get("passed") else "FAILED"
        print(f"  parity with {parity.get('reference', 'x86')}: {verdict} on {parity.get('n')} inputs "
              f"(max |diff| {parity.get('max_abs_diff')}, tolerance {parity.get('tolerance')})")
    return 1 if failed else 0


def frontend_lines(result: dict) -> list[str]:
    """The front-end beside the model, per window and per item, and the end-to-end sum (``bench`` text output)."""
    fe, e2e = result.get("frontend"), result.get("end_to_end")
    if not fe:
        return [f"  front-end: {result.get('frontend_reason') or 'not timed'}"]
    item, w = fe["per_item"], fe["windows_per_item"]
    tag = " [EMULATED]" if fe.get("emulated") else ""
    lines = [f"  {'':10s} {'p50 ms':>9s} {'p90 ms':>9s}  per",
             f"  {'front-end':10s} {fe['p50_ms']:9.3f} {fe['p90_ms']:9.3f}  window{tag}",
             f"  {'model':10s} {result['p50_ms']:9.3f} {result['p90_ms']:9.3f}  invoke "
             f"({e2e['windows_per_invoke'] if e2e else 1} window)",
             f"  {'front-end':10s} {item['p50_ms']:9.3f} {item['p90_ms']:9.3f}  item{tag}"]
    if e2e:
        lines.append(f"  {'end-to-end':10s} {e2e['p50_ms']:9.3f} {e2e['p90_ms']:9.3f}  item  (front-end + model x "
                     f"{e2e['invokes_per_item_p50']:g} / {e2e['invokes_per_item_p90']:g} invokes: a sum of "
                     "separately measured parts)")
    source = {"items": "given", "data": "of the labelled folder", "golden": "golden input"}.get(fe.get("source"),
                                                                                             fe.get("source") or "")
    lines.append(f"  front-end timed on {fe['items']} item(s) ({source}), {fe['runs']} runs, "
                 f"{w['p50']:g} windows per item (median, {w['min']}-{w['max']})"
                 + (f"; {fe['refused']} refused by the front-end, not timed" if fe.get("refused") else ""))
    if fe.get("source") == "golden":
        lines.append("  (the golden inputs come in several forms, a phone-sized photo or a whole recording among them, "
                     "so their p90 is not your items' spread: give --data DIR or --items FILE... for that)")
    return lines


def cmd_inspect(args: argparse.Namespace) -> int:
    from edgekd.audit import inspect_artifact

    result = inspect_artifact(args.artifact)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['artifact']}: {result['size_bytes'] / 1024:.1f} KiB, {result['params']} params, "
              f"{result['n_ops']} ops, fully integer: {result['fully_integer']}, transposes: {result['transposes']}")
        print("  ops: " + ", ".join(f"{k}×{v}" for k, v in sorted(result["ops"].items())))
        print(f"  quantize/dequantize: {result['quantize_ops']}/{result['dequantize_ops']}, weights per-channel/"
              f"per-tensor: {result['per_channel_weights']}/{result['per_tensor_weights']}, weight dtypes: "
              + ", ".join(f"{k}×{v}" for k, v in result.get("weight_dtypes", {}).items())
              + f", I/O: {','.join(result['input_dtypes'])} → {','.join(result['output_dtypes'])}")
        if result["float_ops"]:
            print("  float ops inside the quantized graph: " + ", ".join(map(str, result["float_ops"])))
        delegation = result.get("delegation")
        if delegation:
            print(f"  delegated to {delegation['backend'] or 'no backend'}: {delegation['delegated_ops']} ops in "
                  f"{delegation['delegate_calls']} delegate call(s); left on the portable CPU kernels: "
                  + (", ".join(delegation["non_delegated_ops"]) or "none"))
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from edgekd.atomic import write_bytes
    from edgekd.report.gate import run_gate
    from edgekd.report.summary import render_gate_markdown, render_text

    result = run_gate(args.report, target=args.target, budgets_file=args.budgets, overrides=args.budget,
                      artifact_patterns=args.artifact)
    if args.junit:
        from edgekd.report.junit import junit_bytes

        write_bytes(args.junit, junit_bytes(result))
    if args.markdown and args.markdown != "-":
        # A plain write, not an atomic rename: the file may be $GITHUB_STEP_SUMMARY.
        Path(args.markdown).write_text(render_gate_markdown(result), encoding="utf-8")
    if args.json:
        print(json.dumps(result.to_dict()))
    elif args.markdown == "-":
        print(render_gate_markdown(result), end="")
    else:
        print(render_text(result))
    return result.exit_code


def cmd_targets(args: argparse.Namespace) -> int:
    from edgekd.targets import available_targets, load_target

    profiles = [load_target(p) for p in available_targets().values()]
    if args.json:
        print(json.dumps([p.model_dump() for p in profiles]))
    else:
        for p in profiles:
            print(f"{p.name:22s} {p.arch:9s} {'/'.join(p.formats):12s} {'/'.join(p.precisions):16s} "
                  f"runner={p.runner.kind}  {p.description}")
    return 0


def cmd_targets_derive(args: argparse.Namespace) -> int:
    from edgekd.target_derive import derive_profile
    from edgekd.targets import load_target

    path = derive_profile(args.base, args.name, runner=args.runner, overrides=args.set,
                          out=Path(args.out) if args.out else None, force=args.force)
    profile = load_target(path)
    print(f"{path}: {profile.name} ({profile.derived_from}), runner={profile.runner.kind}", file=sys.stderr)
    print(path)
    return 0


def cmd_targets_calibrate(args: argparse.Namespace) -> int:
    from edgekd.calibration import calibrate

    result = calibrate(args.name, suite=args.suite, formats=args.formats, threads=args.threads, rounds=args.rounds,
                       out=args.out, cache=args.cache, force=args.force, log=lambda s: print(s, file=sys.stderr))
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    d = result.data
    ident = d["identity"]
    print(f"{result.path}: {d['target']} calibrated on {ident['cpu'] or ident['machine']} "
          f"({', '.join(ident['isa']) or 'no listed SIMD flags'}), {ident['threads']} thread(s), {d['runner']} runner")
    print(f"suite {d['suite']['name']}: {d['suite']['cases']} cases, {d['suite']['files']} files; "
          f"error of each case predicted by a fit without it ({d['error_method'].split(':')[0]}):")
    if d["suite"]["name"] != "standard":
        print(f"  (the {d['suite']['name']} suite checks the machinery: too few cases for estimates you can trust)")
    print(f"  {'format':8s} {'runtime':24s} {'precision':9s} {'n':>4s} {'MAE %':>7s} {'within 15 %':>12s} {'worst %':>8s}")
    for fmt, per in d["error"].items():
        rt = d["models"][fmt]
        for precision, e in per.items():
            print(f"  {fmt:8s} {rt['runtime'] + ' ' + rt['version']:24s} {precision:9s} {e['n']:4d} "
                  f"{e['mae_pct']:7.1f} {e['within_15_pct']:12.1f} {e['worst_pct']:+8.1f}")
    return 0


def cmd_targets_schema(args: argparse.Namespace) -> int:
    from edgekd.targets import PROFILE_SCHEMA

    sys.stdout.write(PROFILE_SCHEMA.read_text(encoding="utf-8"))
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from edgekd.bundle.assemble import bundle_zip, make_bundle

    out = make_bundle(Path(args.run_dir), args.target, Path(args.out) if args.out else None, force=args.force,
                      log=lambda s: print(s, file=sys.stderr))
    print(out)
    print(bundle_zip(out))
    return 0


def cmd_conformance(args: argparse.Namespace) -> int:
    from edgekd.runtime import conformance

    given = [(k, getattr(args, k)) for k in ("features", "inputs", "outputs") if getattr(args, k)]
    if len(given) != 1:
        from edgekd.errors import InputError

        raise InputError("give exactly one of --features, --inputs, --outputs")
    kind, path = given[0]
    check = {"features": conformance.check_features, "inputs": conformance.check_inputs,
             "outputs": conformance.check_outputs}[kind]
    result = check(Path(args.artifact), Path(path), Path(args.golden) if args.golden else None)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"{args.artifact}: {'CONFORMS' if result.passed else 'DIVERGES'}: {result.message}")
    return 0 if result.passed else 1


def cmd_upgrade(args: argparse.Namespace) -> int:
    from edgekd.atomic import write_text
    from edgekd.runtime.sidecar import SCHEMA, read_sidecar, sidecar_path, upgrade_sidecar, write_sidecar

    for artifact in map(Path, args.artifact):
        meta = read_sidecar(artifact)
        if meta.get("schema") == SCHEMA:
            print(f"{sidecar_path(artifact)}: already {SCHEMA}")
            continue
        new = upgrade_sidecar(meta, artifact)
        old = sidecar_path(artifact)
        write_text(old.with_name(old.name.replace(".edgekd.json", ".edgekd.v1.json")), old.read_text(encoding="utf-8"))
        write_sidecar(artifact, new)
        print(f"{old}: {meta.get('schema')} -> {SCHEMA} (the old one kept as "
              f"{old.name.replace('.edgekd.json', '.edgekd.v1.json')})")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from edgekd.plugins import installed_plugins

    found = installed_plugins()
    if args.json:
        print(json.dumps([e.to_dict() for e in found]))
        return 0
    if not found:
        print("no edgekd plugins installed (entry-point groups: " + ", ".join(_plugin_groups()) + ")")
        return 0
    for e in found:
        state = "ok" if e.error is None else f"NOT USABLE: {e.error}"
        print(f"{e.group.split('.', 1)[1]:16s} {e.key:24s} {e.distribution:28s} {e.value}  [{state}]")
    return 0


def _number(kind: type, low: float, inclusive: bool, what: str):
    """An argparse type: ``kind`` at least (or above) ``low``, finite; the message names the rule."""
    import math

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


POSITIVE_INT = _number(int, 1, True, "a positive integer")
NON_NEGATIVE_INT = _number(int, 0, True, "an integer >= 0")
POSITIVE_FLOAT = _number(float, 0.0, False, "a positive number")


def _plugin_groups() -> list[str]:
    from edgekd.plugins import GROUPS

    return list(GROUPS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgekd",
        description="Distil, quantize and export a PyTorch model per device target, and measure the artifacts.",
    )
    parser.add_argument("--version", action="version", version=f"edgekd {__version__}")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")
    parser.add_argument("--verbose", action="store_true",
                        help="show the backends' own output (TensorFlow, LiteRT, torch, torchao logs and warnings)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a recipe end to end (train, distil, export, measure, report)")
    p.add_argument("recipe", help="recipe YAML file")
    p.add_argument("--out", help="output folder (default runs/<recipe name>)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key, e.g. --set student.train.epochs=5")
    p.add_argument("--check", action="store_true",
                   help="only check the recipe, its models and its data folder (nothing is trained or written)")
    p.add_argument("--fresh", action="store_true",
                   help="start over: remove the output folder's checkpoints instead of resuming from them (a "
                        "checkpoint of another run, or a damaged one, is otherwise refused by name)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="search recipe keys for the accuracy-size-latency front under a target's budgets")
    p.add_argument("recipe", help="the recipe every trial starts from")
    p.add_argument("--space", help="search space YAML: params (recipe key: {low, high} or {choices}), objectives, "
                   "target, sampler, stop")
    p.add_argument("--trials", type=POSITIVE_INT, default=20, help="finished trials the study should reach (a resumed "
                   "or extra worker runs the rest)")
    p.add_argument("--timeout", type=POSITIVE_FLOAT, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--storage", help="postgresql://USER:PASSWORD@HOST:PORT/DB (many workers) or sqlite:///FILE; "
                   "default: the journal file OUT/sweep.journal")
    p.add_argument("--study", help="study name (default <recipe name>-sweep); workers on one storage share it")
    p.add_argument("--out", help="results folder (default runs/<recipe name>-sweep)")
    p.add_argument("--resume", action="store_true", help="continue a study that was made with another space")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    p.add_argument("--connect-timeout", type=POSITIVE_FLOAT, default=10.0,
                   help="seconds to reach the --storage database before exit 2")
    p.add_argument("--export-best", metavar="FILE", help="write the chosen trial's recipe (from --out's sweep.json) "
                   "and exit: the front's most accurate trial, or --pick N")
    p.add_argument("--pick", type=NON_NEGATIVE_INT, default=None, help="with --export-best: this trial number")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("eval", help="run an artifact on a labelled folder and print its metrics")
    p.add_argument("artifact", help=".tflite or .onnx file with its .edgekd.json sidecar")
    p.add_argument("--data", required=True, help="labelled folder: labels.csv (file,label), REFERENCE.csv or class "
                   "sub-folders, of recordings or images as the sidecar's task says")
    p.add_argument("--threads", type=POSITIVE_INT, default=None)
    p.add_argument("--resample", action="store_true", help="resample recordings at another sample rate")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--items", action="store_true", help="also list each item's prediction (JSON key 'items')")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="latency of an artifact")
    p.add_argument("artifact")
    p.add_argument("--target", help="target profile name or YAML path (threads and runner)")
    p.add_argument("--runner", choices=["local", "ssh", "emulated", "estimate"],
                   help="use this runner instead of the profile's (e.g. estimate for a device not at hand)")
    p.add_argument("--calibration", metavar="FILE", help="the estimate runner's calibration file (default: the "
                   "profile's, or NAME.calibration.json where profiles are found; see edgekd targets calibrate)")
    p.add_argument("--threads", type=POSITIVE_INT, default=None, help="runtime threads (default: the profile's, else 1)")
    p.add_argument("--runs", type=POSITIVE_INT, default=200, help="timed runs (at most, with --cv-target)")
    p.add_argument("--warmup", type=NON_NEGATIVE_INT, default=20, help="untimed runs first")
    p.add_argument("--max-seconds", type=POSITIVE_FLOAT, default=30.0, help="cap on the timed loop")
    p.add_argument("--cv-target", type=POSITIVE_FLOAT, default=None,
                   help="stop once the timings' coefficient of variation (std/mean) is below this, after 30 runs")
    p.add_argument("--timeout", type=POSITIVE_FLOAT, default=300.0, help="cap in seconds for every remote or emulated call")
    p.add_argument("--items", nargs="+", metavar="FILE", help="real inputs (recordings, images, .npy) to time the "
                   "front-end on, beside the model (default: the golden inputs beside the artifact, if any)")
    p.add_argument("--data", metavar="DIR", help="a labelled folder whose files time the front-end (at most 50)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("inspect", help="audit an artifact's graph (ops, float ops, transposes, quantization)")
    p.add_argument("artifact")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("gate", help="check a report's deployed artifacts against budgets (exit 1 if any is broken)",
                       description="Budgets come from each target's profile, then the recipe's export.budgets (recorded in "
                                   "the report), then --budgets FILE, then --budget overrides. Exit 0: all budgets hold; 1: a budget is broken; 2: bad input.")
    p.add_argument("report", help="report.json (schema edgekd.report/1)")
    p.add_argument("--target", help="gate only this target of the report")
    p.add_argument("--budgets", metavar="FILE", help="YAML mapping target name -> budgets, over the profiles'")
    p.add_argument("--budget", action="append", default=[], metavar="KEY=VALUE",
                   help="override a budget for every gated target, e.g. --budget size_kb=30 (KiB; none removes it); "
                        "keys: size_kb, latency_p90_ms, latency_end_to_end_p90_ms, ram_kb, accuracy_drop_pp, min_metric, allow_estimated_latency")
    p.add_argument("--artifact", action="append", default=[], metavar="GLOB",
                   help="gate only artifacts whose name matches, e.g. 'student-*-int8' (repeatable)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML: one test case per artifact x budget")
    p.add_argument("--markdown", metavar="FILE",
                   help="write a Markdown summary (fits $GITHUB_STEP_SUMMARY); '-' prints it instead of the text one")
    p.set_defaults(func=cmd_gate)

    p = sub.add_parser("targets", help="list target device profiles; derive your own; print their JSON Schema")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_targets)
    tsub = p.add_subparsers(dest="targets_command", metavar="{derive,calibrate,schema}")
    q = tsub.add_parser("derive", help="write a new profile made from another (no shipped file edited)")
    q.add_argument("base", help="the profile it starts from: a name (rpi4) or a YAML file")
    q.add_argument("--name", required=True, help="the new profile's name (its file is NAME.yaml)")
    q.add_argument("--runner", help="replace the runner: local, ssh, emulated or estimate (settings via --set)")
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key, e.g. budgets.size_kb=256 or runner.host=pi5.local (repeatable)")
    q.add_argument("--out", help="the file to write (default: targets/NAME.yaml here, where edgekd looks)")
    q.add_argument("--force", action="store_true", help="replace an existing file")
    q.set_defaults(func=cmd_targets_derive)
    q = tsub.add_parser("calibrate", help="time a micro-benchmark suite on the target's device (its local or ssh "
                                          "runner), fit its latency model, write targets/NAME.calibration.json")
    q.add_argument("name", help="the target profile (a name or a YAML file)")
    q.add_argument("--json", action="store_true", help="print the result as JSON")
    q.add_argument("--suite", default="standard", choices=("standard", "quick", "smoke"),
                   help="standard: what a calibration needs (~500 files); quick, smoke: checks of the machinery")
    q.add_argument("--formats", nargs="+", choices=("tflite", "onnx"), help="default: the profile's")
    q.add_argument("--threads", type=int, help="runtime threads (default: the profile's)")
    q.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds per file (default 5)")
    q.add_argument("--out", help="the calibration file (default: targets/NAME.calibration.json here)")
    q.add_argument("--cache", help="where the suite files are built (default ~/.cache/edgekd/calibration-suite)")
    q.add_argument("--force", action="store_true", help="replace an existing calibration file")
    q.set_defaults(func=cmd_targets_calibrate)
    q = tsub.add_parser("schema", help="print the JSON Schema of a profile file (for editors and CI)")
    q.set_defaults(func=cmd_targets_schema)

    p = sub.add_parser("bundle", help="a target's deploy bundle: artifacts, sidecars, golden vectors, model card "
                                      "(and a C array for MCU targets), as a folder and a zip")
    p.add_argument("run_dir", help="a run folder (with report.json) of `edgekd run` or `edgekd.compress`")
    p.add_argument("--target", required=True, help="one of the run's targets")
    p.add_argument("--out", help="the bundle folder (default RUN_DIR/bundles/TARGET); DIR.zip is written beside it")
    p.add_argument("--force", action="store_true", help="replace --out even when it is not an earlier bundle of "
                   "this target (its contents are deleted)")
    p.set_defaults(func=cmd_bundle)

    p = sub.add_parser("conformance", help="check an outside implementation against the artifact's golden vectors "
                                           "(exit 0 conforms, 1 diverges, naming the first step that does)")
    p.add_argument("artifact", help=".tflite/.onnx with its sidecar and NAME.golden/ (as `edgekd bundle` writes them)")
    p.add_argument("--features", metavar="F", help="model inputs of the golden inputs before quantization, "
                   "channel first as the last step gives them (.npy, stacked in the manifest's order), or a folder "
                   "of per-step outputs")
    p.add_argument("--inputs", metavar="F", help="the quantized tensors fed to the model (.npy)")
    p.add_argument("--outputs", metavar="F", help="the model's raw outputs or logits (.npy)")
    p.add_argument("--golden", metavar="DIR", help="the golden folder (default: NAME.golden beside the artifact)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_conformance)

    p = sub.add_parser("upgrade", help="rewrite an artifact's schema-1 sidecar as schema 2 (front-end steps, I/O "
                                       "rules, output semantics); the old one is kept as NAME.edgekd.v1.json")
    p.add_argument("artifact", nargs="+", help=".tflite/.onnx files whose sidecars to upgrade")
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser("plugins", help="list installed plugins (models, tasks, losses, methods, runners, ...) "
                                       "and any that failed to load")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plugins)
    return parser


def _crash_folder() -> Path:
    """Where crash files go: ``$EDGEKD_CRASH_DIR``, else ``$XDG_STATE_HOME/edgekd/crashes``, else
    ``$TMPDIR/edgekd-crashes-<uid>``: a folder of this user's alone (a shared, predictable one in /tmp let
    another user plant a symlink there, or read the tracebacks)."""
    import tempfile

    if os.environ.get("EDGEKD_CRASH_DIR"):
        return Path(os.environ["EDGEKD_CRASH_DIR"])
    state = os.environ.get("XDG_STATE_HOME")
    if state and os.path.isabs(state):
        return Path(state) / "edgekd" / "crashes"
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    return Path(tempfile.gettempdir()) / f"edgekd-crashes-{uid}"


def _private_folder(folder: Path) -> int:
    """Open ``folder`` (made 0700 if missing) as a directory descriptor, refusing a symlink, a folder of another
    user, or (for the default folders) one others can enter. Raises ``OSError`` on any of these."""
    import stat

    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            raise PermissionError(f"{folder}: not a folder of this user")
        if st.st_mode & 0o077 and "EDGEKD_CRASH_DIR" not in os.environ:
            os.fchmod(fd, 0o700)  # ours, but others could read it: make it private
        return fd
    except BaseException:
        os.close(fd)
        raise


def _crash_report(command: str, exc: BaseException, argv: list[str], secrets: list[str]) -> Path:
    """Write the traceback of an unexpected error to a new private file (mode 0600, created exclusively, never
    through a symlink, under an unpredictable name), the command line and the traceback with their secrets
    (URL passwords, ``--password``-like flags, tokens) masked. Raises ``OSError`` when it cannot."""
    import secrets as random_names
    import time
    import traceback

    from edgekd.redact import redact_argv, redact_text

    folder = _crash_folder()
    dir_fd = _private_folder(folder)
    try:
        name = f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{random_names.token_hex(8)}.txt"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    text = (f"edgekd {__version__} {command}: {redact_argv(argv)[0]}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(redact_text(text, secrets))
    return folder / name


class _ReaderSafeStdout:
    """Standard output that lets a command finish when its reader has gone (``edgekd gate R | head -1``).

    A closed pipe would raise ``BrokenPipeError`` from the next ``print`` and turn a gate's 0 or 1 into an
    error; instead the rest of the output is dropped (the file descriptor is pointed at /dev/null, so Python's
    own flush at exit is quiet too) and the command's exit code stands.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.reader_gone = False

    def _gone(self) -> None:
        self.reader_gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    """The one place errors become exit codes: 0 ok, 1 a budget failed, 2 bad input, 3 a backend or edgekd failed.

    Known input problems (``InputError``, a file that cannot be read or written) print one line naming the
    file, key or flag, exit 2; a backend failure (``BackendError``) exits 3 with the backend's message; any
    other exception prints one line and where its traceback was written (``--debug`` prints it), exit 3.
    Exit 1 is only ever a failed budget (``gate``, ``bench`` parity).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose or os.environ.get("EDGEKD_VERBOSE") == "1":
        os.environ["EDGEKD_VERBOSE"] = "1"  # edgekd.runtime.native_log shows native output as it comes
    else:
        _quiet_backends()
    debug = args.debug or os.environ.get("EDGEKD_DEBUG") == "1"
    from edgekd.redact import redact_argv, redact_text

    command_line = sys.argv if argv is None else ["edgekd", *argv]
    secrets = redact_argv(command_line)[1]

    def say(line: str) -> None:  # every error line with its secrets masked (a URL password, a token)
        print(redact_text(line, secrets), file=sys.stderr)

    stdout = sys.stdout
    sys.stdout = _ReaderSafeStdout(stdout)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a reader gone before the last block: dropped here, not an error at exit
        return code
    except EdgekdError as exc:
        say(f"edgekd {args.command}: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file or folder the user pointed at cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        say(f"edgekd {args.command}: error: {where}{exc.strerror or exc}")
        return 2
    except Exception as exc:  # a bug or an unforeseen backend state: short line, traceback kept in a file
        if debug:
            import traceback

            say("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        try:
            kept = f"traceback in {_crash_report(args.command, exc, command_line, secrets)}"
        except Exception as why:  # the crash folder is a file, unwritable, someone else's: the line alone
            kept = f"no crash file: {(why.strerror if isinstance(why, OSError) else None) or why}"
        say(f"edgekd {args.command}: internal error: {type(exc).__name__}: {reason} ({kept}"
            + ("" if debug else "; --debug prints the traceback") + ")")
        return 3
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
