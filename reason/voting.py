"""Vote rules: turn samples into ranked candidates. One table, used by searchers and benchmarks alike.

A searcher's `select=NAME` and `reason bench ... --vote NAME` (and `rescore --vote NAME`) name a
rule in `VOTES`; each takes the samples and the task's answer equivalence and returns candidates,
best first. Answers are grouped by the equivalence (so "0.5" and "1/2" are one candidate when the
grader says so); samples without an answer take no part.

- `majority`: one vote per sample.
- `majority-finished`: majority over samples that ended on their own; samples cut at max_tokens
  (finish_reason "length", which often yield a stray number) count only if no sample finished.
- `weighted`: each sample adds its score to its answer (weighted best-of-N).
- `best`: the answer of the single best-scored sample (plain best-of-N); `max-score` is its old name.

The unscored-sample policy, stated once: a sample whose `score` is None (nothing ranked it) weighs
`UNSCORED = 1.0`, the top of the [0, 1] score range. So on a strategy that scores nothing (CoT,
self-consistency) `weighted` ranks like `majority`, and `best` ties everywhere and falls to votes.
Ties go to more votes, then to the answer seen first, so a vote is deterministic for a sample order.
Each candidate lists its samples best-scored first (its first sample is the one shown as reasoning).
Leaves out: producing the scores (a PRM or verifier does that), and rules that need the model again
(asking it to pick is a searcher).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reason.errors import UnknownComponentError
from reason.types import Candidate, Sample

Equivalence = Callable[[str, str], bool]
VoteRule = Callable[[Sequence[Sample], Equivalence], list[Candidate]]

UNSCORED = 1.0
"""The weight of a sample that has no score (see the module docstring)."""

ALIASES = {"max-score": "best"}
"""Old names still accepted wherever a vote rule is named."""


def group_answers(answers: Sequence[str | None], equivalent: Equivalence) -> list[list[int]]:
    """Indices of equivalent answers, grouped in order of first appearance; None answers are left out.

    Example: ["2", None, "2.0", "3"] -> [[0, 2], [3]]
    """
    groups: list[list[int]] = []
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        for group in groups:
            first = answers[group[0]]
            if first is not None and equivalent(first, answer):
                group.append(index)
                break
        else:
            groups.append([index])
    return groups


def weight(sample: Sample) -> float:
    """A sample's score, or `UNSCORED` when it has none."""
    return UNSCORED if sample.score is None else sample.score


def majority(samples: Sequence[Sample], equivalent: Equivalence) -> list[Candidate]:
    """Candidates by votes, most first; ties keep first-appearance order.

    Example: answers 4, 5, 5, 4, 6 -> 4 (2 votes), 5 (2), 6 (1)
    """
    candidates = [
        Candidate(answer=_answer(samples, g), votes=len(g), sample_indices=tuple(g))
        for g in group_answers([s.answer for s in samples], equivalent)
    ]
    return sorted(candidates, key=lambda c: -c.votes)  # sorted() is stable: ties stay in order


def majority_finished(samples: Sequence[Sample], equivalent: Equivalence) -> list[Candidate]:
    """Majority over samples that ended on their own; truncated ones only break a total wipe-out."""
    finished = [s if s.finish_reason != "length" else s.model_copy(update={"answer": None}) for s in samples]
    return majority(finished, equivalent) or majority(samples, equivalent)


def weighted(samples: Sequence[Sample], equivalent: Equivalence) -> list[Candidate]:
    """Candidates by the sum of their samples' weights.

    Example: scores {"4": [0.9], "5": [0.5, 0.6]} -> 5 (1.1) before 4 (0.9)
    """
    return _scored(samples, equivalent, sum)


def best(samples: Sequence[Sample], equivalent: Equivalence) -> list[Candidate]:
    """Candidates by their best sample's weight.

    Example: scores {"4": [0.9], "5": [0.5, 0.6]} -> 4 (0.9) before 5 (0.6)
    """
    return _scored(samples, equivalent, max)


def confidence(samples: Sequence[Sample], equivalent: Equivalence) -> list[Candidate]:
    """Candidates by the sum of their samples' confidences (DeepConf's confidence-weighted vote; a sample
    without one weighs `UNSCORED`, so without logprobs this is a majority vote).

    Example: confidences {"5": [1.1, 1.1, 1.1], "7": [5.3, 5.3]} -> 7 (10.6) before 5 (3.3)
    """
    return _scored(samples, equivalent, sum, lambda s: UNSCORED if s.confidence is None else s.confidence)


def _scored(samples: Sequence[Sample], equivalent: Equivalence, combine: Callable[[list[float]], float],
            weigh: Callable[[Sample], float] = weight) -> list[Candidate]:
    candidates = [
        Candidate(
            answer=_answer(samples, g),
            votes=len(g),
            score=combine([weigh(samples[i]) for i in g]),
            sample_indices=tuple(sorted(g, key=lambda i: -weigh(samples[i]))),
        )
        for g in group_answers([s.answer for s in samples], equivalent)
    ]
    return sorted(candidates, key=lambda c: (-(c.score or 0.0), -c.votes))


def _answer(samples: Sequence[Sample], group: list[int]) -> str:
    return samples[group[0]].answer or ""


VOTES: dict[str, VoteRule] = {
    "majority": majority,
    "majority-finished": majority_finished,
    "weighted": weighted,
    "best": best,
    "confidence": confidence,
}
"""Every vote rule by name."""


def vote_name(name: str) -> str:
    """The rule's current name (old names map to new ones); unknown names raise, listing the rules."""
    name = ALIASES.get(name, name)
    if name not in VOTES:
        raise UnknownComponentError("vote rule", name, list(VOTES))
    return name


def vote_rule(name: str) -> VoteRule:
    """The rule named `name` (an old name is accepted)."""
    return VOTES[vote_name(name)]
