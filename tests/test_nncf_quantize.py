"""The nncf ONNX backend: int8 (nncf.quantize) and int8-ac (nncf.quantize_with_accuracy_control), on real heart windows.

The models are fitted in seconds on the bundled heart sample: a small CNN, and the "spread" model (each log-mel
band's mean and standard deviation over time, standardised, then 8 hidden units and 2 classes). The spread model is
the case accuracy control is for, found, not forced: NNCF's plain int8 quantizes the whole variance computation
(ReduceMean, Sub, Mul, Div, Sqrt), which costs about 17 points of validation MAcc (ONNX Runtime's quantizer leaves
those ops alone); accuracy control keeps the statistics ops in float and holds the drop within the budget.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgekd
from edgekd.audit.inspect import inspect_artifact
from edgekd.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
HEART = ROOT / "data" / "heart-sample"
QUIET = {"log": lambda s: None}
BUDGET_PP = 5.0


@pytest.fixture(scope="module")
def heart(tmp_path_factory):
    return edgekd.prepare(str(HEART), task="audio-classification", positive="abnormal",
                          cache_dir=str(tmp_path_factory.mktemp("features")), **QUIET)


def _features(x):
    import torch

    return torch.cat([x.mean(dim=3).flatten(1), x.std(dim=3).flatten(1)], 1)


@pytest.fixture(scope="module")
def spread(heart):
    """Each band's mean and spread over time, standardised, 8 hidden units, 2 classes; 100 steps of AdamW."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, mean, std) -> None:
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)
            self.fc1, self.fc2 = torch.nn.Linear(len(mean), 8), torch.nn.Linear(8, 2)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1((_features(x) - self.mean) / self.std)))

    torch.manual_seed(0)
    torch.set_num_threads(1)
    tr = heart.windows["train"]
    x, y = torch.from_numpy(tr.x), torch.from_numpy(tr.y.astype(np.int64))
    f = _features(x)
    net = Pooled(f.mean(0), f.std(0) + 1e-6)
    opt = torch.optim.AdamW(net.parameters(), lr=0.02, weight_decay=0.1)
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="module")
def model(heart):
    """A small CNN (two strided convolutions, global pool, linear), 40 steps of Adam: about 3 s."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    tr = heart.windows["train"]
    x, y = torch.from_numpy(tr.x), torch.from_numpy(tr.y.astype(np.int64))
    nn = torch.nn
    net = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(40):
        batch = torch.randint(0, len(x), (256,))
        loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def _val_score(heart, logits) -> float:
    from edgekd.runtime.scoring import item_metrics, score_of

    val = heart.windows["val"]
    return score_of(item_metrics(logits, val.rec, val.y_rec, heart.classes, heart.positive, how=heart.task.aggregation))


def _torch_logits(net, x):
    import torch

    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def _onnxruntime_logits(path, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.fixture(scope="module")
def nncf_int8(model, heart, tmp_path_factory):
    out = tmp_path_factory.mktemp("nncf") / "heart-nncf-int8.onnx"
    return edgekd.export(model, out, precision="int8", backend="nncf", calibration=heart, val=heart, **QUIET)


def test_nncf_int8_runs_in_onnxruntime_and_agrees_with_fp32(nncf_int8, model, heart):
    x = heart.windows["val"].x
    int8, fp32 = _onnxruntime_logits(nncf_int8.path, x), _torch_logits(model, x)
    assert np.mean(int8.argmax(1) == fp32.argmax(1)) >= 0.97
    audit = inspect_artifact(nncf_int8.path)
    assert audit["per_channel_weights"] >= 3 and audit["per_tensor_weights"] == 0  # conv, conv, linear: per channel


def test_audit_counts_what_onnxruntime_fuses_in_nncf_graphs_as_integer(nncf_int8, tmp_path):
    import onnx
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(nncf_int8.path), opts, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node]
    assert ops.count("QLinearConv") == 2 and "Relu" not in ops  # DQ → Conv (float bias) → Relu → Q: one int8 op
    float_ops = inspect_artifact(nncf_int8.path)["float_ops"]
    assert not [op for op in float_ops if "conv" in op.lower() or "relu" in op.lower()], float_ops
    assert "Gemm" in ops and any("linear" in op for op in float_ops)  # the last layer's float output: a real float op


def test_sidecar_names_the_quantizer(nncf_int8):
    from importlib.metadata import version

    q = nncf_int8.sidecar["quantizer"]
    assert nncf_int8.sidecar["backend"] == "nncf" and nncf_int8.sidecar["precision"] == "int8"
    assert (q["name"], q["version"], q["preset"]) == ("nncf", version("nncf"), "performance")
    assert q["bias_correction"] == "fast"
    assert nncf_int8.sidecar["calibration"]["method"] == "mean_minmax"


def test_int8_ac_meets_the_budget_plain_ptq_breaks(spread, heart, tmp_path):
    x = heart.windows["val"].x
    fp32 = _val_score(heart, _torch_logits(spread, x))
    plain = edgekd.export(spread, tmp_path / "plain.onnx", precision="int8", backend="nncf", calibration=heart,
                          val=heart, **QUIET)
    ac = edgekd.export(spread, tmp_path / "ac.onnx", precision="int8-ac", calibration=heart, val=heart,
                       max_drop_pp=BUDGET_PP, **QUIET)
    plain_drop = 100 * (fp32 - _val_score(heart, _onnxruntime_logits(plain.path, x)))
    ac_drop = 100 * (fp32 - _val_score(heart, _onnxruntime_logits(ac.path, x)))
    assert plain_drop > BUDGET_PP, plain_drop
    assert ac_drop <= BUDGET_PP, ac_drop
    control = ac.sidecar["accuracy_control"]
    assert control["met"] and control["kept_float"] and control["max_drop_pp"] == BUDGET_PP
    assert control["drop_pp"] == pytest.approx(ac_drop) and control["ptq_drop_pp"] == pytest.approx(plain_drop)
    assert ac.backend == "nncf" and ac.sidecar["quantizer"]["name"] == "nncf"
    audit = inspect_artifact(ac.path)  # the audit sees what accuracy control kept in float
    assert not audit["fully_integer"] and audit["float_ops"]


def test_fully_integer_target_refuses_int8_ac_that_kept_float_ops(spread, heart, tmp_path):
    profile = tmp_path / "npu.yaml"
    profile.write_text("arch: x86_64\nformats: [onnx]\nprecisions: [fp32, int8]\nfully_integer: true\n"
                       f"budgets: {{accuracy_drop_pp: {BUDGET_PP}}}\n", encoding="utf-8")
    out = tmp_path / "ac.onnx"
    with pytest.raises(InputError, match=r"fully integer graphs \(fully_integer: true\).* has \d+ float op\(s\)"):
        edgekd.export(spread, out, precision="int8-ac", target=str(profile), calibration=heart, val=heart, **QUIET)
    assert not out.exists() and not out.with_suffix(".edgekd.json").exists()


def test_int8_ac_without_an_accuracy_budget_is_refused_before_any_work():
    from edgekd.exporting.stage import check_export_plan
    from edgekd.targets import load_target

    profile = load_target("x86_64").model_copy(update={"budgets": load_target("x86_64").budgets.model_copy(
        update={"accuracy_drop_pp": None})})
    with pytest.raises(InputError, match=r"int8-ac .* needs an accuracy budget"):
        check_export_plan([profile], ["int8-ac"], None, lambda t: None)


def test_a_recipe_pins_nncf_on_every_target():
    from torch import nn

    from edgekd.api.distilling import objective_of
    from edgekd.api.inputs import resolve_task
    from edgekd.exporting.config import ExportSpec
    from edgekd.exporting.stage import export_plan, target_backend
    from edgekd.flow.compress import check_compress

    export = ExportSpec(precisions=["fp32", "int8", "int8-ac"], backends={"onnx": "nncf"})
    profiles, _ = check_compress(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)),  # what edgekd run checks first
                                 task=resolve_task(None).for_input((16,)), targets=["x86_64", "rpi4"],
                                 objective=objective_of("ce", None, True, "student"), prune=None, export=export,
                                 runner="estimate")
    assert {target_backend(p, "onnx", q).name for p in profiles for q in ("fp32", "int8", "int8-ac")} == {"nncf"}
    assert export_plan(["tflite", "onnx"], ["int8", "int8-ac"]) == [("tflite", "int8"), ("onnx", "int8"),
                                                                     ("onnx", "int8-ac")]  # int8-ac: ONNX only


def test_report_names_the_quantizer_and_flags_the_ops_accuracy_control_kept_in_float():
    from edgekd.report.flags import audit_flags, quantizer_text

    row = {"precision": "int8-ac", "audit": {"quantized": True, "fully_integer": False, "float_ops": ["node_Gemm_1"]},
           "accuracy_control": {"kept_float": ["node_Gemm_1"], "ptq_drop_pp": 20.0, "drop_pp": 0.0, "max_drop_pp": 5.0,
                                "met": True},
           "quantizer": {"name": "nncf", "version": "3.4.0", "preset": "mixed", "bias_correction": "full"}}
    assert quantizer_text(row) == "nncf 3.4.0, mixed, full bias correction"  # report.md and report.html
    assert "accuracy control kept 1 op(s) in float (node_Gemm_1): validation drop 20.00 pp plain int8 → 0.00 pp " \
           "(budget 5.0 pp)" in audit_flags(row)


def test_nncf_keeps_stdout_clean(model, heart, tmp_path, capsys):
    edgekd.export(model, tmp_path / "m.onnx", precision="int8", backend="nncf", calibration=heart, **QUIET)
    assert capsys.readouterr().out == ""  # NNCF's INFO lines and progress bars go to stdout, where --json goes


def test_nncf_options_are_checked_in_the_recipe_and_the_api():
    from edgekd.exporting.config import ExportSpec
    from edgekd.exporting.nncf_quantize import NncfOptions

    spec = ExportSpec(precisions=["int8", "int8-ac"], backends={"onnx": "nncf"}, nncf={"preset": "mixed"})
    assert NncfOptions.of(spec.nncf.model_dump()) == NncfOptions(preset="mixed")
    with pytest.raises(InputError, match=r"export.nncf.preset: 'fast' is not one of performance, mixed"):
        NncfOptions.of({"preset": "fast"}, "export.nncf")
    with pytest.raises(InputError, match=r"unknown option\(s\) bias"):
        NncfOptions.of({"bias": True})


def test_nncf_is_imported_lazily():
    code = ("import sys, edgekd, edgekd.exporting.backends, edgekd.exporting.nncf_quantize\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nncf', 'torch', 'onnx')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("kwargs, message", [
    ({"precision": "int8-ac", "max_drop_pp": "2"}, r"max_drop_pp: expected a number of points >= 0.*'2'"),
    ({"precision": "int8-ac", "max_drop_pp": True}, r"max_drop_pp: expected a number"),
    ({"precision": "int8", "max_drop_pp": 1.0}, r"max_drop_pp applies to precision='int8-ac' only"),
    ({"precision": "int8", "nncf": {"preset": "mixed"}}, r"nncf= options apply where NNCF quantizes"),
])
def test_a_quantizer_option_that_would_be_ignored_or_is_malformed_is_refused_before_any_work(kwargs, message,
                                                                                              tmp_path):
    import torch

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
    out = tmp_path / "net.onnx"
    with pytest.raises(InputError, match=message):
        edgekd.export(net, out, example=torch.zeros(1, 1, 4, 4), **kwargs, **QUIET)
    assert not out.exists()


def test_a_report_written_through_the_api_keeps_the_quantizer(heart, tmp_path):
    """``Exported.measured`` carries what made the file, as ``edgekd run`` does: a report (and the gate) built from the
    API says which quantizer wrote each int8 file."""
    import json

    art = edgekd.export(_linear_heart(heart), tmp_path / "artifacts" / "net.onnx", precision="int8", backend="nncf",
                        calibration=heart, val=heart, **QUIET)
    record = art.measured(edgekd.evaluate(art.path, heart))
    report = json.loads(edgekd.write_report(tmp_path / "report.json", [record]).read_text())
    assert report["artifacts"][0]["quantizer"]["name"] == "nncf"


def _linear_heart(heart):
    import torch

    shape = heart.windows["val"].x.shape[1:]
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(int(np.prod(shape)), 2)).eval()
