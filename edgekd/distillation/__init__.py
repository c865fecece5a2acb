"""Distillation: logit losses (``losses.LOSSES``), feature losses, methods (``methods.METHODS``) and the trainer.

``objective.build_objective`` turns a recipe's ``loss``/``distill`` into what
``trainer.train_model`` takes as ``loss_fn``; every training step (the student,
pruning recovery, QAT) goes through it, so each method works in each step.
"""
