"""Vote rules: named functions that turn a searcher's samples into ranked candidates.

`reason bench ... --aggregate NAME` and `reason bench rescore RUN --aggregate NAME`
apply one of these to every problem's samples instead of the searcher's own choice.
Each takes the samples and the task's answer-equivalence and returns candidates,
best first; ties keep the order answers first appeared in.
Add a rule with `@aggregator("name")`.
Leaves out: rules that need the model again (e.g. asking it to pick); those are searchers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reason.errors import UnknownComponentError
from reason.types import Candidate, Sample
from reason.searchers.voting import group_answers, majority_vote

Equivalence = Callable[[str, str], bool]
Aggregator = Callable[[Sequence[Sample], Equivalence], list[Candidate]]

AGGREGATORS: dict[str, Aggregator] = {}
"""Every vote rule by name."""


def aggregator(name: str) -> Callable[[Aggregator], Aggregator]:
    def register(fn: Aggregator) -> Aggregator:
        AGGREGATORS[name] = fn
        return fn

    return register


def get_aggregator(name: str) -> Aggregator:
    try:
        return AGGREGATORS[name]
    except KeyError:
        raise UnknownComponentError("aggregator", name, list(AGGREGATORS)) from None


@aggregator("majority")
def majority(samples: Sequence[Sample], equivalent: Equivalence) -> list[Candidate]:
    """One vote per sample with an answer."""
    return majority_vote(samples, equivalent)


@aggregator("majority-finished")
def majority_finished(samples: Sequence[Sample], equivalent: Equivalence) -> list[Candidate]:
    """Majority over samples that ended on their own; truncated ones ('length') only break a total wipe-out.

    A sample cut off by max_tokens often yields a stray number as its "answer".
    """
    finished = [s if s.finish_reason != "length" else s.model_copy(update={"answer": None}) for s in samples]
    ranked = majority_vote(finished, equivalent)
    return ranked or majority_vote(samples, equivalent)


@aggregator("weighted")
def weighted(samples: Sequence[Sample], equivalent: Equivalence) -> list[Candidate]:
    """Score-weighted vote: each sample adds its score (a PRM or reward score) to its answer.

    Unscored samples weigh 1, so on a strategy that scores nothing (CoT,
    self-consistency) this ranks like `majority`.
    """
    groups = group_answers([s.answer for s in samples], equivalent)
    weight = [1.0 if s.score is None else s.score for s in samples]
    candidates = [_candidate(samples, g, sum(weight[i] for i in g)) for g in groups]
    return sorted(candidates, key=lambda c: -(c.score or 0.0))


@aggregator("max-score")
def max_score(samples: Sequence[Sample], equivalent: Equivalence) -> list[Candidate]:
    """Best-of-N: the answer of the single highest-scored sample wins (unscored samples score 0)."""
    groups = group_answers([s.answer for s in samples], equivalent)
    best = [max((samples[i].score or 0.0) for i in g) for g in groups]
    candidates = [_candidate(samples, g, b) for g, b in zip(groups, best, strict=True)]
    return sorted(candidates, key=lambda c: -(c.score or 0.0))


def _candidate(samples: Sequence[Sample], group: list[int], score: float) -> Candidate:
    return Candidate(answer=samples[group[0]].answer or "", votes=len(group), score=score, sample_indices=tuple(group))
