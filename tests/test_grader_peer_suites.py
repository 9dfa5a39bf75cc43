"""Our grading against the labels of a peer's public test suite: Math-Verify 0.9.0's own tests.

The cases come from the suite's source distribution on PyPI (scripts/peer_suites.py, run by
scripts/setup.sh; nothing of it is committed), read by tests/peer_cases.py. Each side is read as
the math task style reads a model's text (marked answer, else the last math segment), then graded.

What is held here:
- agreement with the suite's labels never falls below what was measured (a regression floor);
- every case where we differ from the suite's label, either way, is listed in `DIFFERENCES` with the
  reason (the README lists them): a fixed case must leave the list, a new difference fails;
- Math-Verify itself, run on the same cases in the same way, is reported beside us.
A row's `precision` option (Math-Verify's float_rounding) is honoured through our `approximate_places`;
its `strict` and `allow_set_relation_comp` options have no counterpart here (see DIFFERENCES).
"""

from __future__ import annotations

import re

import pytest
from peer_cases import PeerCase, peer_cases

from reason.tasks import task_style
from reason.verifiers.grader import Grader, GraderConfig

AGREEMENT_FLOOR = 264
"""Cases (of 274) on which we agreed with the suite's labels when last measured (96.4%)."""

FLOORS = {"equivalence": 131, "extraction": 133}
"""The same floor per kind of case (see `kind`), as last measured: 131/137 (95.6%) and 133/137 (97.1%)."""

DIFFERENCES = {
    # we say pass, the suite says the answers differ
    "test_all.py:132:8": "math spanning lines ($ \\n 9 \\n $) is still math to us; the suite says no answer",
    "test_all.py:133:8": "the same, for \\( \\n 9 \\n \\)",
    "test_all.py:913:8": "the suite runs this row with set-relation comparison off; we compare -2 <= x <= 7 with [-2, 7]",
    # we say fail, the suite says equal
    "test_strict.py:8:38": "the suite runs this row with strict=False (variable names ignored); f(x) and f(y) differ to us",
    "test_yujianll.py:28:8": "the suite's label says 1 - 1/e equals 1 + 1/e; they differ",
    "test_yujianll.py:20:8": "sums, integrals and limits are compared as written, not evaluated: a reordered product "
                             "inside \\sum is a different text",
    "test_all.py:512:8": "an expression of matrices (a sum) is not evaluated; the answer is the matrix written",
    "test_all.py:518:8": "the same, for a product of matrices",
    "test_numina_cases.py:9:8": "lists of solutions compare as multisets: a repeated solution is an answer that differs",
    "test_numina_cases.py:96:8": "the same row again",
}
"""Every case on which we differ from the suite's label, with the reason (the README lists them)."""


@pytest.fixture(scope="module")
def cases() -> list[PeerCase]:
    return peer_cases("math-verify-0.9.0")


def grader_for(case: PeerCase, graders: dict[int, Grader]) -> Grader:
    """The grader set as the suite sets Math-Verify for this row: a row's `precision` (Math-Verify's
    float_rounding) is our `approximate_places`; rows without one get the defaults (6 in both)."""
    places = int(dict(case.options).get("precision", 6))  # type: ignore[call-overload]
    if places not in graders:
        graders[places] = Grader(GraderConfig(approximate_places=places))
    return graders[places]


@pytest.fixture(scope="module")
def ours(cases) -> dict[str, bool]:
    style, graders = task_style("math"), {}
    return {c.where: grader_for(c, graders).grade(style.stated(c.prediction) or c.prediction,
                                                  style.stated(c.gold) or c.gold).status == "pass" for c in cases}


def test_the_suite_was_read_whole(cases):
    assert len(cases) == 274 and sum(c.equal for c in cases) > 200 and len({c.where for c in cases}) == 274


def kind(case: PeerCase) -> str:
    """"extraction" when a side is model text (words outside its math, or a box to find), else "equivalence"."""
    def prose(text: str) -> bool:
        outside = re.sub(r"\$\$.*?\$\$|\$.*?\$|\\\[.*?\\\]|\\\(.*?\\\)", " ", text, flags=re.S)
        outside = re.sub(r"\\[A-Za-z]+", " ", outside)
        return len(re.findall(r"[A-Za-z]{3,}", outside)) >= 2
    both = (case.gold, case.prediction)
    return "extraction" if any(prose(t) or "boxed" in t for t in both) else "equivalence"


def test_agreement_with_the_suites_labels_does_not_fall(cases, ours):
    agreed = sum(ours[c.where] == c.equal for c in cases)
    assert agreed >= AGREEMENT_FLOOR, f"{agreed}/{len(cases)} agree with Math-Verify's labels"
    for name, floor in FLOORS.items():
        group = [c for c in cases if kind(c) == name]
        assert sum(ours[c.where] == c.equal for c in group) >= floor, name


def test_every_difference_from_the_suites_labels_is_a_stated_policy(cases, ours):
    differences = {c.where for c in cases if ours[c.where] != c.equal}
    assert differences == set(DIFFERENCES), {
        "new differences": sorted(differences - set(DIFFERENCES)), "fixed, drop from the list": sorted(set(DIFFERENCES) - differences)}
    wrong_passes = {c.where for c in cases if ours[c.where] and not c.equal}
    assert wrong_passes == {"test_all.py:132:8", "test_all.py:133:8", "test_all.py:913:8"}


def test_math_verify_on_the_same_cases_for_comparison(cases):
    math_verify = pytest.importorskip("math_verify")  # the bench extra, installed by scripts/setup.sh
    targets = [math_verify.LatexExtractionConfig(boxed_match_priority=0), math_verify.ExprExtractionConfig()]

    def verdict(case: PeerCase) -> bool:
        options = dict(case.options)
        try:
            return bool(math_verify.verify(
                math_verify.parse(case.gold, targets), math_verify.parse(case.prediction, targets),
                float_rounding=options.get("precision", 6), strict=options.get("strict", True),
                allow_set_relation_comp=options.get("allow_set_relation_comp", False)))
        except Exception:
            return False

    agreed = sum(verdict(c) == c.equal for c in cases)
    assert agreed >= 270  # its own suite: 272/274 measured
