"""An example edgekd plugin: a task, its device-side front-end and a model, registered through entry points.

- ``pcg-envelope`` (task and front-end): heart-sound recordings turned into their 50 Hz amplitude
  envelope, cut into 3 s windows: a 1-D signal a tiny 1-D CNN classifies, and that a microcontroller
  computes with a band-pass, an absolute value and a running mean.
- ``envelope_cnn`` (model): that 1-D CNN.

Nothing in edgekd names this package: ``pip install`` it and recipes can say ``task: pcg-envelope`` and
``model: envelope_cnn`` (``edgekd plugins`` lists them).
"""
