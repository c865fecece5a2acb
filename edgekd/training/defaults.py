"""The one set of KD defaults (Hinton KD: ``alpha`` weighs the hard labels, ``1 - alpha`` the teacher's softened
outputs at ``temperature``): ``loss: kd`` without parameters, and the fine-tunings after the student's training
(pruning recovery, QAT) when the student itself did not learn from the teacher (``config.follow_up_objective``)."""

KD_DEFAULTS: dict[str, float] = {"temperature": 4.0, "alpha": 0.1}
