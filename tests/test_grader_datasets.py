"""Whole datasets graded against themselves: every MATH-500 reference answer against the boxed
answer of its own solution, every GSM8K test answer against itself reformatted (and off by one)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from reason.extract import after_hashes, last_boxed
from reason.verifiers.grader import Grader

DATA = Path(__file__).parents[2] / "shared" / "data"
MATH500 = DATA / "math" / "math500.jsonl"
GSM8K = DATA / "gsm8k" / "test.jsonl"


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        pytest.skip(f"{path} not present (shared data lives beside the clone)")
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_every_math500_answer_matches_its_solutions_boxed_answer():
    rows = _rows(MATH500)
    assert len(rows) == 500
    grader = Grader()
    failures = [(r["unique_id"], r["answer"]) for r in rows if not grader.grade(last_boxed(r["solution"]), r["answer"]).passed]
    assert failures == []


def _gsm8k_references() -> list[str]:
    references = [after_hashes(r["answer"]) for r in _rows(GSM8K)]
    assert len(references) == 1319 and all(references)
    return references  # type: ignore[return-value]


_STYLES = (
    lambda n: f"{n:,}",
    lambda n: f"\\${n}",
    lambda n: f"{n}.00",
    lambda n: f"\\boxed{{{n}}}",
    lambda n: f"{n} dollars",
    lambda n: f"${n:,}$",
)


def test_every_gsm8k_answer_matches_itself_reformatted_and_not_its_neighbour():
    references = _gsm8k_references()
    numbers = [int(r.replace(",", "")) for r in references]
    grader = Grader()
    reformatted = [_STYLES[i % len(_STYLES)](n) for i, n in enumerate(numbers)]
    assert [r for r, p in zip(references, reformatted) if not grader.grade(p, r).passed] == []
    off_by_one = [_STYLES[i % len(_STYLES)](n + 1) for i, n in enumerate(numbers)]
    assert [r for r, p in zip(references, off_by_one) if grader.grade(p, r).passed] == []


def test_a_gsm8k_sized_run_grades_well_under_a_second_from_a_cold_cache():
    references = _gsm8k_references()
    predictions = [_STYLES[i % len(_STYLES)](int(r.replace(",", ""))) for i, r in enumerate(references)]
    grader = Grader()
    grader.clear_cache()
    started = time.perf_counter()
    verdicts = [grader.grade(p, r) for p, r in zip(predictions, references)]
    elapsed = time.perf_counter() - started
    assert all(v.passed for v in verdicts)
    assert elapsed < 1.0, f"1,319 gradings took {elapsed:.2f}s"
