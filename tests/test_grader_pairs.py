"""The grader against the hand-written pair set: (prediction, reference, equal?) in MATH and GSM8K answer styles."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from reason.verifiers.grader import Grader

PAIRS = [json.loads(line) for line in (Path(__file__).parent / "data" / "grader_pairs.jsonl").read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader()


def test_pair_set_covers_both_verdicts_and_every_answer_style():
    assert len(PAIRS) >= 250
    labels = Counter(p["equal"] for p in PAIRS)
    assert labels[True] >= 100 and labels[False] >= 100
    kinds = {p["kind"] for p in PAIRS}
    for kind in ("gsm8k", "fraction", "radical", "symbolic", "equation", "tuple", "set-list", "interval", "matrix", "text-choice"):
        assert kind in kinds
    assert len({(p["prediction"], p["reference"]) for p in PAIRS}) == len(PAIRS)


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{p['kind']}-{i}" for i, p in enumerate(PAIRS)])
def test_pair(pair, grader):
    verdict = grader.grade(pair["prediction"], pair["reference"])
    assert verdict.status in ("pass", "fail"), verdict
    assert verdict.passed is pair["equal"], verdict
