"""Grouping sampled answers into candidates and voting between them.

Answers are grouped by an equivalence function (so "0.5" and "1/2" can be one
candidate when the grader says so). Ties go to the answer seen first, which makes
the vote deterministic for a given sample order.
Leaves out: weighted voting by scores (best-of-N and PRM searchers add that).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reason.types import Candidate, Sample


def group_answers(answers: Sequence[str | None], equivalent: Callable[[str, str], bool]) -> list[list[int]]:
    """Indices of equivalent answers, grouped in order of first appearance; None answers are left out.

    Example: ["2", None, "2.0", "3"] -> [[0, 2], [3]]
    """
    groups: list[list[int]] = []
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        for group in groups:
            if equivalent(answers[group[0]], answer):  # type: ignore[arg-type]
                group.append(index)
                break
        else:
            groups.append([index])
    return groups


def majority_vote(samples: Sequence[Sample], equivalent: Callable[[str, str], bool]) -> list[Candidate]:
    """Candidates by votes, most first; ties keep first-appearance order."""
    groups = group_answers([s.answer for s in samples], equivalent)
    candidates = [
        Candidate(answer=samples[g[0]].answer, votes=len(g), sample_indices=tuple(g))  # type: ignore[arg-type]
        for g in groups
    ]
    return sorted(candidates, key=lambda c: -c.votes)  # sorted() is stable: ties stay in order
