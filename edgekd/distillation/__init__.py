"""Distillation: the methods (``methods.METHODS``: logit, feature, mixup, multi-teacher, ...), feature losses,
and ``objective.build_objective``, which turns a recipe's ``loss``/``distill`` into what
``edgekd.training.trainer.train_model`` takes as ``loss_fn``. The trainer, the logit losses and the specs are in
``edgekd.training``, shared with pruning recovery and QAT.
"""
