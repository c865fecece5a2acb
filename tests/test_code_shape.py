"""The code stays readable where users and adapters meet it: no function over 80 lines in the API, the flow or
the sweep (docstring included), checked on the source (issue 25)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = [f for pkg in ("api", "flow", "sweep") for f in sorted((ROOT / "edgekd" / pkg).glob("*.py"))]


@pytest.mark.parametrize("path", FILES, ids=[f"{f.parent.name}/{f.name}" for f in FILES])
def test_no_function_is_over_80_lines(path):
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 80]
    assert not long, long
