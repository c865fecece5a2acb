"""Benchmark runners: the same artifact measured the same way wherever it runs.

``registry.run_bench`` picks the target profile's runner from ``registry.RUNNERS``:
``local`` (this machine, ``local.py``), ``ssh`` (a real device, ``ssh.py``),
``emulated`` (qemu-user arm64 root, ``emulated*.py``) and ``estimate`` (per-op
MACs/bytes x the profile's coefficients: ``estimate.py``, ``graphcost.py``,
``opcost.py``; MCU boards: ``mcu*.py``). Every runner returns the ``bench --json``
dict and says how its figure was obtained (``runner``, ``estimated``, ``emulated``, ``method``).
"""
