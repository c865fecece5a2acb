"""The run report and what reads it.

``schema`` (``report.json``, schema ``edgekd.report/1``), ``markdown`` (``report.md``), ``html`` and
``plots`` (``report.html``, ``plots/*.png``, Pareto fronts), ``flags`` (audit flags), ``budgets`` (each
artifact against its target's budgets), ``gate`` / ``junit`` / ``summary`` (``edgekd gate``).
"""
