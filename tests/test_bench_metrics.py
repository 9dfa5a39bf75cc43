"""pass@k (Chen et al. 2021) and maj@k against hand-computed values; the summary over records."""

import math

import pytest

from reason.bench.metrics import (
    k_values,
    maj_at_k,
    majority_correct,
    pass_at_k,
    selected_at_k,
    summarize,
)
from reason.bench.records import (
    CacheCounts,
    CandidateRecord,
    ProblemRecord,
    SampleRecord,
)
from reason.types import Compute, Verdict


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 2 / 5),
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (5, 2, 3, 1 - 1 / 10),  # 1 - C(3,3)/C(5,3)
        (5, 2, 4, 1.0),  # fewer than 4 wrong samples: any 4 include a right one
        (4, 0, 2, 0.0),
        (4, 4, 1, 1.0),
        (10, 1, 5, 0.5),  # 1 - C(9,5)/C(10,5) = 1 - 126/252
        (8, 3, 2, 1 - 10 / 28),  # 1 - C(5,2)/C(8,2)
    ],
)
def test_pass_at_k_matches_hand_computed_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_is_the_chance_a_random_k_subset_has_a_correct_sample():
    n, c, k = 7, 2, 3
    import itertools

    subsets = list(itertools.combinations(range(n), k))
    hits = sum(any(i < c for i in s) for s in subsets)
    assert pass_at_k(n, c, k) == pytest.approx(hits / math.comb(n, k))


@pytest.mark.parametrize("bad", [(3, 4, 1), (3, 1, 0), (3, 1, 4)])
def test_pass_at_k_rejects_impossible_arguments(bad):
    with pytest.raises(ValueError):
        pass_at_k(*bad)


def test_majority_breaks_ties_by_first_appearance_and_ignores_missing_answers():
    assert majority_correct(["a", "b"], {"a": True}) is True
    assert majority_correct(["b", "a"], {"a": True}) is False
    assert majority_correct([None, None, "a"], {"a": True}) is True
    assert majority_correct([None], {}) is False


def test_maj_at_k_by_hand():
    # labels b, a, a with a correct: single samples right 2/3; pairs {b,a} tie -> b (first): wrong twice, {a,a} right.
    labels, correct = ["b", "a", "a"], {"a": True, "b": False}
    assert maj_at_k(labels, correct, 1) == pytest.approx(2 / 3)
    assert maj_at_k(labels, correct, 2) == pytest.approx(1 / 3)
    assert maj_at_k(labels, correct, 3) == 1.0


def test_maj_at_k_samples_subsets_when_there_are_too_many_and_is_deterministic():
    labels = ["a"] * 10 + ["b"] * 10  # C(20,10) subsets: sampled
    first = maj_at_k(labels, {"a": True}, 10)
    assert first == maj_at_k(labels, {"a": True}, 10)
    assert 0.3 < first < 0.9


def test_best_and_weighted_at_k_by_hand():
    # a (right, 0.9), b (0.5), b (0.5). best@1: each sample alone, 1/3. best@2: {a,b} twice -> a, {b,b} -> b: 2/3.
    # weighted@3: b's 1.0 beats a's 0.9. weighted@2: {a,b} -> a (0.9 > 0.5) twice, {b,b} -> b: 2/3.
    labels, correct, scores = ["a", "b", "b"], {"a": True}, [0.9, 0.5, 0.5]
    assert selected_at_k(labels, correct, scores, 1) == pytest.approx(1 / 3)
    assert selected_at_k(labels, correct, scores, 2) == pytest.approx(2 / 3)
    assert selected_at_k(labels, correct, scores, 3) == 1.0
    assert selected_at_k(labels, correct, scores, 3, "weighted") == 0.0
    assert selected_at_k(labels, correct, scores, 2, "weighted") == pytest.approx(2 / 3)


def test_selection_ties_are_a_fair_draw_and_an_unanswered_best_is_wrong():
    assert selected_at_k(["a", "b"], {"a": True}, [0.7, 0.7], 2) == 0.5
    assert selected_at_k(["a", "b"], {"a": True}, [0.7, 0.7], 2, "weighted") == 0.5
    assert selected_at_k([None, "a"], {"a": True}, [0.9, 0.1], 2) == 0.0
    assert selected_at_k([None, "a"], {"a": True}, [0.9, 0.1], 2, "weighted") == 1.0
    assert selected_at_k([None], {}, [0.9], 1, "weighted") == 0.0


def test_selection_at_k_refuses_mismatched_scores_and_unknown_rules():
    with pytest.raises(ValueError, match="2 samples but 1 scores"):
        selected_at_k(["a", "b"], {}, [0.1], 1)
    with pytest.raises(ValueError, match="'best' or 'weighted'"):
        selected_at_k(["a"], {}, [0.1], 1, "majority")
    with pytest.raises(ValueError, match="1 <= k <= n"):
        selected_at_k(["a"], {}, [0.1], 2)


def test_k_values():
    assert k_values(1) == [1]
    assert k_values(6) == [1, 2, 4, 6]
    assert k_values(8) == [1, 2, 4, 8]


def problem(pid, answers, right, predicted_right):
    """A record whose samples give `answers`; answers in `right` are correct; candidates by majority."""
    groups = {}
    for i, a in enumerate(answers):
        if a is not None:
            groups.setdefault(a, []).append(i)
    candidates = tuple(
        CandidateRecord(answer=a, votes=len(ix), sample_indices=tuple(ix), correct=a in right, verdict="pass")
        for a, ix in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    )
    samples = tuple(
        SampleRecord(text="", answer=a, finish_reason="stop", generated_tokens=10, correct=a in right) for a in answers
    )
    return ProblemRecord(
        id=pid, question="q", reference="r", predicted=None, correct=predicted_right, verdict=Verdict(status="pass"),
        strategy="self-consistency", vote=None, candidates=candidates, samples=samples,
        compute=Compute(generated_tokens=10 * len(answers), prompt_tokens=30, model_calls=1, prm_prompt_tokens=5),
        cache=CacheCounts(hits=1, generated=len(answers) - 1), wall_time_s=1.0,
    )


def test_summary_over_records():
    records = [
        problem("a", ["1", "1", "2", "2"], {"1"}, True),  # c=2 of 4
        problem("b", ["3", None, "4", "3"], set(), False),  # c=0
    ]
    s = summarize(records, timed_problems=2, elapsed_s=30.0, timed_tokens=80)
    assert (s.problems, s.correct, s.accuracy, s.samples_per_problem) == (2, 1, 0.5, 4)
    assert s.pass_at[1] == pytest.approx((2 / 4 + 0) / 2)
    assert s.pass_at[2] == pytest.approx(((1 - 1 / 6) + 0) / 2)  # 1 - C(2,2)/C(4,2)
    assert s.pass_at[4] == pytest.approx(0.5)
    assert s.maj_at[4] == pytest.approx(0.5)  # a: tie 1 vs 2, "1" first -> right; b: wrong
    assert s.mean_generated_tokens == 40 and s.mean_prm_tokens == 5 and s.total_generated_tokens == 80
    assert s.cache == CacheCounts(hits=2, generated=6)
    assert s.problems_per_min == pytest.approx(4.0) and s.generated_tokens_per_s == pytest.approx(80 / 30)


def test_summary_of_nothing_is_zero_not_a_crash():
    s = summarize([], 0, 0.0, 0)
    assert (s.problems, s.accuracy, s.pass_at, s.problems_per_min) == (0, 0.0, {}, None)
