"""Labelled answer pairs from other graders' public test suites (brought by scripts/peer_suites.py).

A suite's pytest files are read with `ast`, never imported: every `pytest.mark.parametrize` whose
parameters include a gold answer, a prediction and the expected outcome gives one case per row.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SUITES = Path(__file__).resolve().parents[1] / ".cache" / "peer-suites"


@dataclass(frozen=True)
class PeerCase:
    suite: str
    where: str
    """file:line:column of the row."""
    gold: str
    prediction: str
    equal: bool
    options: tuple[tuple[str, object], ...] = ()
    """The row's other parameters (match types, precision, ...), as the suite's test passes them."""


def peer_cases(suite: str = "math-verify-0.9.0") -> list[PeerCase]:
    folder = SUITES / suite / "tests"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing: run `python scripts/peer_suites.py` (scripts/setup.sh does)")
    return [case for path in sorted(folder.glob("test_*.py")) for case in _cases(suite, path)]


def _cases(suite: str, path: Path) -> list[PeerCase]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "parametrize" and len(node.args) >= 2):
            continue
        try:
            names = [n.strip() for n in ast.literal_eval(node.args[0]).split(",")]
        except (ValueError, AttributeError):
            continue
        names = ["expected" if n == "result" else n for n in names]
        if not {"gold", "pred", "expected"} <= set(names) or not isinstance(node.args[1], ast.List):
            continue
        for row in node.args[1].elts:
            try:
                values = dict(zip(names, ast.literal_eval(row), strict=True))
            except (ValueError, TypeError):
                continue  # a row built by code, not a literal
            options = tuple((k, v) for k, v in values.items() if k not in ("gold", "pred", "expected"))
            found.append(PeerCase(suite, f"{path.name}:{row.lineno}:{row.col_offset}", str(values["gold"]), str(values["pred"]),
                                  bool(values["expected"]), options))
    return found
