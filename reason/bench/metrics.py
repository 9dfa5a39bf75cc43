"""Run metrics from records: accuracy, maj@k, pass@k, tokens and throughput.

pass@k is the unbiased estimator of Chen et al. (2021): with n samples of which c are
correct, pass@k = 1 - C(n-c, k) / C(n, k), the chance that k samples drawn without
replacement include a correct one. maj@k is the chance that a majority vote over k of
the n samples is correct: exact over all k-subsets when there are at most
`MAJ_SUBSETS` of them, else the mean over that many subsets drawn with a fixed seed.
best@k and weighted@k (`selected_at_k`) are the same over samples a verifier scored: the
chance that choosing by score among k of the n samples is right, so one best-of-N run
gives best-of-k at every k <= N on the same samples.
Leaves out: confidence intervals.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import Field

from reason.bench.records import CacheCounts, ProblemRecord
from reason.types import Frozen

MAJ_SUBSETS = 256


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem. Example: pass_at_k(4, 1, 2) -> 1 - C(3,2)/C(4,2) = 0.5."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(labels: Sequence[object | None], correct: dict[object, bool]) -> bool:
    """Is the most common label (ties: first seen) a correct one? None labels (no answer) do not vote.

    Example: labels ["a", "b", "b"], correct {"b": True} -> True
    """
    counts = Counter(label for label in labels if label is not None)
    if not counts:
        return False
    top = max(counts.values())
    winner = next(label for label in labels if label is not None and counts[label] == top)
    return correct.get(winner, False)


def maj_at_k(labels: Sequence[object | None], correct: dict[object, bool], k: int, seed: int = 0) -> float:
    """Expected correctness of a majority vote over k of the samples (see module doc)."""
    outcomes = [majority_correct([labels[i] for i in s], correct) for s in _subsets(len(labels), k, seed)]
    return sum(outcomes) / len(outcomes)


def selected_at_k(
    labels: Sequence[object | None],
    correct: dict[object, bool],
    scores: Sequence[float],
    k: int,
    select: str = "best",
    seed: int = 0,
) -> float:
    """Expected correctness of choosing among k of the samples by their verifier scores.

    `select="best"`: the highest-scoring sample's answer (a best sample with no answer is wrong);
    `"weighted"`: the answer whose samples' scores sum highest (weighted best-of-N). Ties count
    as a fair draw among the tied answers. Subsets as for maj@k.
    Example: labels ["a", "b", "b"], correct {"a": True}, scores [0.9, 0.5, 0.5]:
    best@1 = 1/3, best@3 = 1.0, weighted@3 = 0.0 (b's 1.0 beats a's 0.9).
    """
    if len(scores) != len(labels):
        raise ValueError(f"{len(labels)} samples but {len(scores)} scores")
    if select not in ("best", "weighted"):
        raise ValueError(f"select must be 'best' or 'weighted', not {select!r}")
    pick = _best_correct if select == "best" else _weighted_correct
    outcomes = [pick([labels[i] for i in s], [scores[i] for i in s], correct) for s in _subsets(len(labels), k, seed)]
    return sum(outcomes) / len(outcomes)


def _best_correct(labels: list[object | None], scores: list[float], correct: dict[object, bool]) -> float:
    top = max(scores)
    tied = [label for label, score in zip(labels, scores, strict=True) if score == top]
    return sum(label is not None and correct.get(label, False) for label in tied) / len(tied)


def _weighted_correct(labels: list[object | None], scores: list[float], correct: dict[object, bool]) -> float:
    totals: dict[object, float] = {}
    for label, score in zip(labels, scores, strict=True):
        if label is not None:
            totals[label] = totals.get(label, 0.0) + score
    if not totals:
        return 0.0
    top = max(totals.values())
    tied = [label for label, total in totals.items() if total == top]
    return sum(correct.get(label, False) for label in tied) / len(tied)


def _subsets(n: int, k: int, seed: int) -> Iterable[tuple[int, ...]]:
    """Every k-subset of range(n) when there are at most MAJ_SUBSETS of them, else that many drawn with `seed`."""
    if not 1 <= k <= n:
        raise ValueError(f"a metric over k of n samples needs 1 <= k <= n (n={n}, k={k})")
    if math.comb(n, k) <= MAJ_SUBSETS:
        return itertools.combinations(range(n), k)
    rng = random.Random(seed)
    return (tuple(sorted(rng.sample(range(n), k))) for _ in range(MAJ_SUBSETS))


def sample_labels(record: ProblemRecord) -> tuple[list[object | None], dict[object, bool]]:
    """Each sample's vote label (its answer group, else its raw answer text) and which labels are correct.

    Groups come from the task's answer equivalence at grading time, so maj@k is a plain
    majority over samples whatever vote rule chose the run's prediction.
    """
    labels: list[object | None] = [
        None if s.answer is None else (s.group if s.group is not None else ("raw", s.answer)) for s in record.samples
    ]
    correct: dict[object, bool] = {}
    for label, sample in zip(labels, record.samples, strict=True):
        if label is not None:
            correct[label] = correct.get(label, False) or sample.correct
    return labels, correct


def k_values(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself. Example: 6 -> [1, 2, 4, 6]."""
    ks = [2**i for i in range(n.bit_length()) if 2**i <= n]
    return ks if not n or ks[-1] == n else [*ks, n]


class Summary(Frozen):
    """A run's results: what `summary.json` holds and the table shows."""

    problems: int
    correct: int
    accuracy: float
    maj_at: dict[int, float] = Field(default_factory=dict)
    pass_at: dict[int, float] = Field(default_factory=dict)
    samples_per_problem: int
    mean_generated_tokens: float
    """Policy tokens generated per problem: the budget axis of a sweep."""
    mean_prompt_tokens: float
    mean_prm_tokens: float
    mean_model_calls: float
    total_generated_tokens: int
    cache: CacheCounts
    elapsed_s: float
    """Wall-clock time of the sessions that solved problems (resumes add up)."""
    timed_problems: int
    timed_generated_tokens: int
    """Tokens the backend generated in those sessions (completions served from the cache count none)."""
    problems_per_min: float | None
    generated_tokens_per_s: float | None
    """Backend throughput: timed_generated_tokens / elapsed_s; a fully cached run generates (and shows) none."""
    failures: int = 0
    """Problem attempts lost to a dead worker or replica and retried (Ray runs; resumes add up)."""


def summarize(records: Sequence[ProblemRecord], timed_problems: int, elapsed_s: float, timed_tokens: int) -> Summary:
    """Metrics over records; throughput from the problems and tokens solved in `elapsed_s` of wall clock."""
    count = len(records)
    n_min = min((len(r.samples) for r in records), default=0)
    mean = (lambda values: sum(values) / count) if count else (lambda values: 0.0)
    return Summary(
        problems=count,
        correct=sum(r.correct for r in records),
        accuracy=mean([float(r.correct) for r in records]),
        maj_at={k: mean([maj_at_k(*sample_labels(r), k) for r in records]) for k in k_values(n_min)},
        pass_at={k: mean([pass_at_k(len(r.samples), sum(s.correct for s in r.samples), k) for r in records])
                 for k in k_values(n_min)},
        samples_per_problem=n_min,
        mean_generated_tokens=mean([r.compute.generated_tokens for r in records]),
        mean_prompt_tokens=mean([r.compute.prompt_tokens for r in records]),
        mean_prm_tokens=mean([r.compute.prm_prompt_tokens + r.compute.prm_generated_tokens for r in records]),
        mean_model_calls=mean([r.compute.model_calls for r in records]),
        total_generated_tokens=sum(r.compute.generated_tokens for r in records),
        cache=sum((r.cache for r in records), CacheCounts()),
        elapsed_s=elapsed_s,
        timed_problems=timed_problems,
        timed_generated_tokens=timed_tokens,
        problems_per_min=60.0 * timed_problems / elapsed_s if elapsed_s > 0 and timed_problems else None,
        generated_tokens_per_s=timed_tokens / elapsed_s if elapsed_s > 0 and timed_problems else None,
    )
