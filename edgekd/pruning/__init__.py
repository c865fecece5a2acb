"""Structured channel pruning on top of torch-pruning, split by concept as Torch-Pruning is.

- ``importance``: scoring (registry ``IMPORTANCES``: ``l1``, ``l2``, ``bn_scale``, ``taylor``);
- ``budget``: what "small enough" means (parameter ratio, MAC budget, predicted int8 file size, latency);
- ``prune``: the mechanism (dependency groups, the removal order, pruning a model to a budget);
- ``state``: saving and reloading a pruned architecture with ``torch.load(weights_only=True)``;
- ``latency_table``: NetAdapt's per-layer latency table, measured on the target's runner and cached;
- ``netadapt``: the latency policy (how many channels per layer, greedily, until a latency target is met);
- ``schedule``: the policy over time (one-shot or N steps, distillation recovery between steps);
- ``check``: the recipe's ``prune:`` section checked against the student before any training.
- ``stage``: the pipeline's prune stage (distill-prune-distill or prune-distill) and its report section.

Importing this package is cheap; the modules import torch and torch_pruning themselves.
"""
