"""The gate result for people: a terminal summary and a Markdown one that fits a CI step summary.

Violations come first, each with its figure, its budget and the artifact, so a
reviewer reading the CI log or ``$GITHUB_STEP_SUMMARY`` sees why the build failed
without opening the report.
"""

from __future__ import annotations

from edgekd.report.gate import GateResult

_ICON = {"pass": "✅ pass", "fail": "❌ FAIL", "skip": "⚪ not checked"}


def render_text(result: GateResult) -> str:
    """The terminal summary: verdict, each violation with figure, budget and artifact, then skips."""
    n_art = len(result.gated_artifacts)
    lines = []
    verdict = "PASS" if result.passed else "FAIL"
    broken = f"{len(result.violations)} of {len(result.checks)} checks broken" if result.violations \
        else f"all {len(result.checks) - len(result.skipped)} checks hold"
    lines.append(f"edgekd gate {result.report_path}: {verdict}: {broken} ({n_art} artifact(s), "
                 f"target(s) {', '.join(result.targets)})")
    for t in result.targets.values():
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in t.budgets.model_dump(exclude_none=True).items()
                          if k not in ("allow_estimated_latency", "allow_unmeasured")) or "none"
        lines.append(f"  budgets {t.target}: {shown}  [{'; '.join(t.sources)}]")
    for c in result.violations:
        lines.append(f"  FAIL {c.artifact} [{c.target}] {c.budget}: {c.message}")
    for c in result.skipped:
        lines.append(f"  SKIP {c.artifact} [{c.target}] {c.budget}: {c.detail}")
    for c in result.checks:  # a paired accuracy drop over its budget that the data cannot tell from none
        if c.status == "pass" and c.value is not None and c.budget != "min_metric" and c.value > c.limit:
            lines.append(f"  PASS {c.artifact} [{c.target}] {c.budget}: {c.message}")
    if not result.checks:
        lines.append("  warning: no budget was checked (no budgets set for the gated targets)")
    for n in result.not_gated:
        lines.append(f"  not gated: {n}")
    return "\n".join(lines)


def _cell(x: object) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def render_gate_markdown(result: GateResult) -> str:
    """The gate result as GitHub-flavoured Markdown: verdict, violations, then every check in one table."""
    r = result.report
    name = (r.get("recipe") or {}).get("name", "?")
    verdict = "✅ all budgets hold" if result.passed else f"❌ {len(result.violations)} budget(s) broken"
    lines = [
        f"## edgekd gate: {verdict}",
        "",
        f"Report `{result.report_path}` · recipe `{name}` · created {r.get('created', '?')} · "
        f"seed {r.get('seed', '?')} · data hash `{str((r.get('data') or {}).get('hash', '?'))[:12]}`",
        "",
    ]
    for t in result.targets.values():
        shown = ", ".join(f"`{k}` {v:g}" if isinstance(v, float) else f"`{k}` {v}"
                          for k, v in t.budgets.model_dump(exclude_none=True).items()
                          if k not in ("allow_estimated_latency", "allow_unmeasured")) or "none"
        lines.append(f"- **{t.target}** budgets: {shown} ({'; '.join(t.sources)})")
    if result.violations:
        lines += ["", "### Violations", ""]
        for c in result.violations:
            lines.append(f"- ❌ `{c.artifact}` on `{c.target}`: **{c.budget}**: {_cell(c.message)}")
    lines += ["", "### All checks", "", "| artifact | target | budget | value | limit | result | detail |",
              "|---|---|---|---:|---:|---|---|"]
    for c in result.checks:
        value = "–" if c.value is None else f"{c.value:.4g} {c.unit}".strip()
        limit = "sha256" if c.budget == "file" else f"{c.limit:g} {c.unit}"
        lines.append(f"| `{c.artifact}` | {c.target} | {c.budget} | {value} | {limit} | "
                     f"{_ICON[c.status]} | {_cell(c.detail)} |")
    if not result.checks:
        lines.append("| – | – | – | – | – | no budget set | |")
    if result.not_gated:
        lines += ["", "Not gated: " + ", ".join(result.not_gated)]
    return "\n".join(lines) + "\n"
