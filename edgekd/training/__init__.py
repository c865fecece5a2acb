"""Training, shared by every stage: the trainer, the logit losses, the typed specs and KD defaults, checkpoints,
and the distillation-method interface (``method.DistillMethod``; the built-in methods are in
``edgekd.distillation``, plugins' come through the ``edgekd.distill_methods`` entry-point group).

Distillation, pruning recovery and quantization-aware training all train through ``trainer.train_model``;
none of those stages imports another.
"""
