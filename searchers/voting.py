"""Grouping sampled answers into candidates and voting between them.

Answers are grouped by an equivalence function (so "0.5" and "1/2" can be one
candidate when the grader says so). Ties go to the answer seen first, which makes
the vote deterministic for a given sample order.
`SELECTIONS` names the ways to pick between candidates: plain majority, the single
best-scored sample ("best": plain best-of-N), or scores summed per answer ("weighted").
Leaves out: producing the scores (a PRM or verifier does that).
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


def _scored(
    samples: Sequence[Sample], equivalent: Callable[[str, str], bool], combine: Callable[[list[float]], float]
) -> list[Candidate]:
    groups = group_answers([s.answer for s in samples], equivalent)
    candidates = [
        Candidate(
            answer=samples[g[0]].answer,  # type: ignore[arg-type]
            votes=len(g),
            score=combine([samples[i].score or 0.0 for i in g]),
            sample_indices=tuple(sorted(g, key=lambda i: -(samples[i].score or 0.0))),
        )
        for g in groups
    ]
    return sorted(candidates, key=lambda c: (-(c.score or 0.0), -c.votes))


def best_scored(samples: Sequence[Sample], equivalent: Callable[[str, str], bool]) -> list[Candidate]:
    """Candidates by their best sample's score (plain best-of-N); each lists its best sample first.

    Example: scores {"4": [0.9], "5": [0.5, 0.6]} -> 4 (0.9) before 5 (0.6)
    """
    return _scored(samples, equivalent, max)


def weighted_vote(samples: Sequence[Sample], equivalent: Callable[[str, str], bool]) -> list[Candidate]:
    """Candidates by the sum of their samples' scores (weighted best-of-N).

    Example: scores {"4": [0.9], "5": [0.5, 0.6]} -> 5 (1.1) before 4 (0.9)
    """
    return _scored(samples, equivalent, sum)


Selection = Callable[[Sequence[Sample], Callable[[str, str], bool]], list[Candidate]]

SELECTIONS: dict[str, Selection] = {"majority": majority_vote, "best": best_scored, "weighted": weighted_vote}
"""Every way to choose between candidates, by name; searcher configs name one of these."""
