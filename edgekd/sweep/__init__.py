"""``edgekd sweep``: the accuracy–size–latency Pareto front of a recipe under a target's budgets (Optuna).

- ``space``: the search space file (recipe keys → ranges or choices, objectives, sampler, stopping rule).
- ``check``: the space checked against the recipe before any trial (did-you-mean, every value buildable).
- ``trial``: one trial, as ``edgekd run`` would run it, judged on its exported file on validation.
- ``stopping``: stopping hopeless trials on their validation curve (multi-objective aware).
- ``objectives``: objective values, budget constraints, the feasible front.
- ``storage``: the journal file in ``--out`` by default; SQLite or PostgreSQL for many workers.
- ``teacher``: the teacher trained once for all trials, cached by content hash.
- ``search``: the study and its loop; ``results``: ``sweep.json``/``report.html``; ``best``: ``--export-best``.

Nothing here is imported by ``import edgekd``; Optuna is imported when a sweep runs.
"""
