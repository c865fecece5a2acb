"""Training loop with distillation, validation per epoch, early stopping, checkpoints and resume.

With ``consistent_teacher`` (the default) the frozen teacher labels the same
augmented view the student sees, batch by batch ("a good teacher is patient and
consistent", Beyer et al., CVPR 2022); otherwise its logits on the clean
training windows are computed once, which is cheaper.
Validation scores items, not windows: window probabilities are combined per
item (the task's ``aggregation``), as at deployment. The trainer knows no task:
the caller passes the task's training augmentation (or none).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from edgekd.data.features import WindowSet
from edgekd.training.checkpoints import read_resumable
from edgekd.training.losses import LossFn
from edgekd.errors import InputError
from edgekd.models.inference import predict_logits
from edgekd.runtime.scoring import item_metrics, score_of

__all__ = ["TrainConfig", "TrainResult", "predict_logits", "recording_metrics", "score_of", "train_model"]


@dataclass
class TrainConfig:
    """How to train one model (the recipe's ``train`` section)."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 8
    smooth: int = 3
    consistent_teacher: bool = True
    threads: int = 2
    balance: str = "none"
    epoch_windows: int | None = None
    select: str = "score"
    backbone_lr: float = 1.0
    freeze_epochs: int = 0


@dataclass
class TrainResult:
    """What training produced: the best epoch and the per-epoch history."""

    best_epoch: int
    best_score: float
    epochs_run: int
    resumed_from: int
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def recording_metrics(
    logits: np.ndarray, windows: WindowSet, labels: list[str], positive: str | None, how: str = "mean"
) -> dict:
    """Item-level metrics from window logits (window probabilities combined per item by ``how``)."""
    return item_metrics(logits, windows.rec, windows.y_rec, labels, positive, how=how)


def _fingerprint(model: nn.Module, cfg: TrainConfig, train: WindowSet, seed: int, extra: str, distil: bool) -> str:
    """Identity of a training run: a checkpoint is resumed only by the same run.

    Teacher options are left out when there is no teacher (they cannot change the result), so
    adding one does not throw away a finished teacher.
    """
    settings = asdict(cfg)
    for key, default in (("balance", "none"), ("epoch_windows", None), ("select", "score"), ("backbone_lr", 1.0),
                         ("freeze_epochs", 0)):
        if settings[key] == default:  # the defaults keep the fingerprints of runs made before these settings
            settings.pop(key)
    if not distil:
        settings.pop("consistent_teacher")
    h = hashlib.sha256()
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(f"{type(model).__name__}|{sum(p.numel() for p in model.parameters())}|{seed}|{extra}".encode())
    h.update(np.ascontiguousarray(train.y).tobytes())
    h.update(str(train.x.shape).encode())
    h.update(np.ascontiguousarray(train.x[:: max(len(train.x) // 64, 1)]).tobytes())
    return h.hexdigest()[:16]


def train_model(
    model: nn.Module,
    train: WindowSet,
    val: WindowSet,
    loss_fn: "LossFn | DistillMethod",
    *,
    labels: list[str],
    positive: str | None,
    cfg: TrainConfig,
    seed: int,
    checkpoint_dir: Path,
    teacher: nn.Module | None = None,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
    fingerprint_extra: str = "",
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    snapshot_every: int = 0,
    aggregation: str = "mean",
    stop: Callable[[int, float], bool] | None = None,
) -> TrainResult:
    """Train ``model`` in place and leave it holding the best validation weights.

    Args:
        model: the network to train.
        train, val: window sets; validation is scored per recording.
        loss_fn: a loss from ``edgekd.training.losses.build_loss`` (logit KD against ``teacher``), or a
            distillation method from ``edgekd.distillation.methods.build_method`` (feature KD, mixup, ...),
            which then decides per batch what the teacher(s) compute and the loss.
        labels, positive: class names and the positive class (for MAcc).
        cfg: epochs, batch size, learning rate, early-stopping patience.
        seed: seeds torch for init-independent parts (shuffling, augmentation).
        checkpoint_dir: ``last.pt`` (for resume) and ``best.pt`` are kept here;
            a run with the same fingerprint resumes from ``last.pt``.
        teacher: frozen teacher whose logits feed a distillation loss.
        log: where the per-epoch line goes.
        augment: the task's training-batch augmentation ``(batch, generator) -> batch``
            (``Task.augmentation()``: SpecAugment for audio, crops and jitter for photos); None: none.
        snapshot_every: also keep ``epoch{N}.pt`` every N epochs (the checkpoints a
            checkpoint-ensemble teacher is made of); 0 keeps none.
        aggregation: how validation windows are combined per item (the task's ``aggregation``).
        stop: a stopping rule asked after every epoch with ``(epoch, val score)``; True ends training there
            (``edgekd sweep`` stops trials that cannot reach the Pareto front). The best weights so far are kept.
    """
    from edgekd.training.method import BindContext, DistillMethod
    from edgekd.training.method import Batch
    from edgekd.training.logit import LogitKD

    from edgekd.runtime.artifact import usable_cpus

    torch.set_num_threads(min(cfg.threads, usable_cpus()))  # never more threads than CPUs this process may use
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    is_method = isinstance(loss_fn, DistillMethod)
    method = loss_fn if is_method else LogitKD(LogitKD.Params(), loss_fn)
    extra = fingerprint_extra + (f"|method:{method.fingerprint()}" if is_method else "")
    fp = _fingerprint(model, cfg, train, seed, extra, distil=teacher is not None or is_method)
    gen = torch.Generator().manual_seed(seed)
    if teacher is not None:
        teacher.eval()
    method.bind(
        BindContext(
            student=model,
            teacher=teacher,
            train_x=train.x,
            num_classes=len(labels),
            online=cfg.consistent_teacher and augment is not None,
            epochs=cfg.epochs,
        )
    )
    # adapters (feature KD) train with the student; they are not part of it and are never exported
    fine_tune = cfg.backbone_lr != 1.0 or cfg.freeze_epochs > 0
    backbone, fresh = pretrained_split(model) if fine_tune else ([], list(model.parameters()))
    fresh = fresh + list(method.extra_modules().parameters())
    groups = [{"params": fresh, "lr": cfg.lr}]
    max_lr = [cfg.lr]
    if backbone and cfg.backbone_lr > 0:
        groups.append({"params": backbone, "lr": cfg.lr * cfg.backbone_lr})
        max_lr.append(cfg.lr * cfg.backbone_lr)
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, -(-(cfg.epoch_windows or len(train.x)) // cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=cfg.epochs * steps_per_epoch)
    frozen = backbone if (cfg.freeze_epochs or cfg.backbone_lr == 0) else []
    try:
        return _loop(model, train, val, method, opt, sched, gen, fp, steps_per_epoch, labels=labels,
                     positive=positive, cfg=cfg, checkpoint_dir=checkpoint_dir, log=log, augment=augment,
                     snapshot_every=snapshot_every, batch_cls=Batch, aggregation=aggregation, stop=stop,
                     frozen=frozen)
    finally:
        for p in frozen:
            p.requires_grad_(True)
        method.unbind()


def pretrained_split(model: nn.Module) -> tuple[list, list]:
    """``(pretrained parameters, new parameters)`` of a model, for ``backbone_lr`` and ``freeze_epochs``.

    A model built with ``pretrained:`` records which tensors were left at their initial values
    (``model.pretrained_source["left_initialised"]``); any other model counts its last ``nn.Linear`` as the new
    part. A model with neither has no backbone: everything is new.

    Example:
        >>> from torch import nn
        >>> backbone, new = pretrained_split(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4, 2)))
        >>> len(backbone), len(new)
        (2, 2)
    """
    source = getattr(model, "pretrained_source", None)
    named = dict(model.named_parameters())
    if isinstance(source, dict) and "left_initialised" in source:
        new = set(source["left_initialised"]) & set(named)
    else:
        linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
        if not linears:
            return [], list(named.values())
        prefix = linears[-1] + "." if linears[-1] else ""
        new = {n for n in named if n.startswith(prefix)} if prefix else set(named)
    return [p for n, p in named.items() if n not in new], [p for n, p in named.items() if n in new]


def _loop(model, train, val, method, opt, sched, gen, fp, steps_per_epoch, *, labels, positive, cfg, checkpoint_dir,
          log, augment, snapshot_every, batch_cls, aggregation, stop=None, frozen=()) -> TrainResult:
    """The epochs of ``train_model`` (its arguments, with the optimiser, schedule and method built)."""
    state = {"epoch": 0, "best_score": -1.0, "best_epoch": 0, "bad_epochs": 0, "history": []}
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    last_path, best_path = checkpoint_dir / "last.pt", checkpoint_dir / "best.pt"
    resumed_from = 0
    ckpt = read_resumable(last_path, fp, "training")
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            gen.set_state(ckpt["generator"])
            best_state = ckpt["best_model"]
            if "method" in ckpt:
                method.load_state_dict(ckpt["method"])  # adapters, snapshots
            state = json.loads(ckpt["state"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            from edgekd.training.checkpoints import FRESH_HINT

            raise InputError(f"{last_path}: a damaged training checkpoint ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]}); {FRESH_HINT}") from None
        resumed_from = state["epoch"]
        log(f"resuming from {last_path} at epoch {resumed_from}")

    x_all, y_all = torch.from_numpy(train.x), torch.from_numpy(train.y)
    weights = sampling_weights(train, cfg.balance)
    n_draw = cfg.epoch_windows or len(x_all)
    t_start = time.perf_counter()
    stopped = state["bad_epochs"] >= cfg.patience
    while state["epoch"] < cfg.epochs and not stopped:
        epoch = state["epoch"] + 1
        model.train()
        for p in frozen:  # frozen-then-unfrozen: the pretrained part waits for the new classifier
            p.requires_grad_(epoch > cfg.freeze_epochs and cfg.backbone_lr > 0)
        if weights is None:
            perm = torch.randperm(len(x_all), generator=gen)
            if n_draw != len(x_all):  # a fixed epoch length: whole shuffles, cut
                perm = torch.cat([perm, *(torch.randperm(len(x_all), generator=gen)
                                          for _ in range(n_draw // len(x_all)))])[:n_draw]
        else:
            perm = torch.multinomial(weights, n_draw, replacement=True, generator=gen)
        total, seen = 0.0, 0
        for i in _progress(range(steps_per_epoch), f"epoch {epoch}/{cfg.epochs}"):
            idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            if len(idx) < 2:  # BatchNorm needs two examples; keep the schedule in step
                sched.step()
                continue
            clean, yb = x_all[idx], y_all[idx]
            xb = augment(clean, gen) if augment is not None else clean
            loss = method.loss(model, batch_cls(x=xb, x_clean=clean, y=yb, idx=idx, epoch=epoch, gen=gen))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        method.end_epoch(model, epoch)
        val_logits = predict_logits(model, val.x)
        val_metrics = recording_metrics(val_logits, val, labels, positive, aggregation)
        row = {"epoch": epoch, "loss": total / max(seen, 1), "val_accuracy": val_metrics["accuracy"]}
        if cfg.select == "group_mean":
            per_group = {g: score_of(recording_metrics(val_logits[np.isin(val.rec, ids)], val.subset(ids), labels,
                                                       positive, aggregation))
                         for g, ids in _group_ids(val).items()}
            row["val_group_scores"] = per_group
            row["val_pooled_score"] = score_of(val_metrics)
            score = float(np.mean(list(per_group.values())))
        else:
            score = score_of(val_metrics)
        row["val_score"] = score
        selectable = method.selectable(epoch)
        if not selectable:
            row["selectable"] = False  # e.g. the block-wise phase of stage-wise KD: the head is untrained
        state["history"].append(row)
        state["epoch"] = epoch
        # select on the mean of the last `smooth` epochs: one lucky epoch on a small validation set
        # (100 recordings: one recording moves MAcc by 1-2 points) does not pick the weights
        recent = [h["val_score"] for h in state["history"] if h.get("selectable", True)][-cfg.smooth :]
        smoothed = sum(recent) / len(recent) if recent else -1.0
        row["val_score_smoothed"] = smoothed
        improved = selectable and smoothed > state["best_score"]
        if improved:
            state.update(best_score=smoothed, best_epoch=epoch, bad_epochs=0)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            _save({"model": best_state, "fingerprint": fp, "epoch": epoch}, best_path)
        elif selectable:
            state["bad_epochs"] += 1
        if snapshot_every and epoch % snapshot_every == 0:
            _save({"model": model.state_dict(), "fingerprint": fp, "epoch": epoch}, checkpoint_dir / f"epoch{epoch:03d}.pt")
        _save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "generator": gen.get_state(),
                "best_model": best_state,
                "state": json.dumps(state),
                "fingerprint": fp,
                **({"method": method.state_dict()} if _has_state(method) else {}),
            },
            last_path,
        )
        selection = f"mean of last {len(recent)}: {smoothed:.3f}" if selectable else "not a selection candidate"
        within = ""
        if "val_group_scores" in row:
            within = " = mean of " + ", ".join(f"{g} {v:.3f}" for g, v in row["val_group_scores"].items())
        log(
            f"epoch {epoch:3d}/{cfg.epochs}  loss {row['loss']:.4f}  val {'MAcc' if positive else 'bal. acc'} "
            f"{score:.3f}{within} ({selection}){'  *' if improved else ''}"
        )
        stopped = state["bad_epochs"] >= cfg.patience
        if stopped:
            log(f"early stop: no better val score for {cfg.patience} epochs")
        elif stop is not None and stop(epoch, score):
            log(f"stopped at epoch {epoch} by the caller's stopping rule")
            break
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(
        best_epoch=state["best_epoch"],
        best_score=state["best_score"],
        epochs_run=state["epoch"],
        resumed_from=resumed_from,
        history=state["history"],
        seconds=time.perf_counter() - t_start,
    )


def sampling_weights(train: WindowSet, balance: str) -> "torch.Tensor | None":
    """Per-window draw weights giving every class (``label``) or (group, class) cell (``group_label``) an
    equal share of an epoch; None for ``none`` (plain shuffling).

    Example:
        >>> import numpy as np
        >>> ws = WindowSet.from_arrays(np.zeros((4, 1, 2, 2)), [0, 0, 0, 1])
        >>> sampling_weights(ws, "label").tolist()
        [0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.5]
    """
    if balance == "none":
        return None
    if balance not in ("label", "group_label"):
        raise InputError(f"train.balance: {balance!r} is not one of none, label, group_label")
    groups = train.groups
    keys = [(groups[int(r)] if balance == "group_label" else "", int(y)) for r, y in zip(train.rec, train.y)]
    counts: dict = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    w = torch.tensor([1.0 / counts[k] for k in keys], dtype=torch.float64)
    return (w / w.sum()).float()


def _group_ids(ws: WindowSet) -> dict[str, list[int]]:
    """Item indices of each group, groups sorted."""
    out: dict[str, list[int]] = {}
    for i, g in enumerate(ws.groups):
        out.setdefault(g, []).append(i)
    return dict(sorted(out.items()))


def _has_state(method) -> bool:
    """Whether a method has anything to resume (adapters, a snapshot)."""
    state = method.state_dict()
    return bool(state.get("extra")) or any(v is not None for k, v in state.items() if k != "extra")


def _progress(it, desc: str):
    """A tqdm bar on a terminal, a plain iterator otherwise (CI logs stay readable)."""
    if not sys.stderr.isatty():
        return it
    from tqdm import tqdm

    return tqdm(it, desc=desc, leave=False, unit="batch")


def _save(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
