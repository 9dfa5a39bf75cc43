"""Best-of-N (plain, weighted, over a base searcher), self-consistency over a base, adaptive self-consistency, refinement."""

import pytest

from reason.budget import Budget
from reason.errors import ConfigError
from reason.searchers.adaptive_sc import AdaptiveSelfConsistency, beta_tail_above_half
from reason.searchers.best_of_n import BestOfN
from reason.searchers.refine import VerifierRefine
from reason.searchers.self_consistency import SelfConsistency
from reason.testing import FakeGenerator, FakePRM, by_prefix
from reason.types import Problem, SamplingParams, Verdict

Q = Problem(question="How many?", answer="5")
SOLUTIONS = ["3 + 1 = 4\n\nThe answer is 4.", "2 + 3 = 5\n\nThe answer is 5.", "5 + 0 = 5\n\nThe answer is 5."]
SCORES = {"3 + 1 = 4": 0.9, "2 + 3 = 5": 0.6, "5 + 0 = 5": 0.6}


@pytest.mark.parametrize(
    ("select", "answer", "score"), [("best", "4", 0.9), ("weighted", "5", 1.2), ("majority", "5", None)]
)
def test_best_of_n_plain_weighted_and_majority(select, answer, score):
    gen = FakeGenerator(SOLUTIONS)
    prm = FakePRM(SCORES, default=1.0)
    result = BestOfN(n=3, prm=prm, step_score="min", select=select).search(Q, gen)
    assert len(gen.calls) == 1 and gen.calls[0].params.n == 3
    assert prm.history == [
        [["3 + 1 = 4", "The answer is 4."], ["2 + 3 = 5", "The answer is 5."], ["5 + 0 = 5", "The answer is 5."]]
    ]
    assert result.answer == answer
    if score is not None:
        assert result.candidates[0].score == pytest.approx(score)
    assert [s.score for s in result.samples] == [0.9, 0.6, 0.6]


def test_best_of_n_aggregation_changes_the_winner():
    gen = FakeGenerator(["ok\n\nThe answer is 1.", "shaky\n\nThe answer is 2."], cycle=True)
    prm = FakePRM({"ok": 0.7, "The answer is 1.": 0.6, "shaky": 0.1, "The answer is 2.": 0.9})
    assert BestOfN(n=2, prm=prm, step_score="last").search(Q, gen).answer == "2"
    assert BestOfN(n=2, prm=prm, step_score="min").search(Q, gen).answer == "1"
    assert BestOfN(n=2, prm=prm, step_score="prod").search(Q, gen).answer == "1"  # .42 vs .09


def test_best_of_n_over_a_base_searcher_sums_compute_and_grafts_trees():
    gen = FakeGenerator(by_prefix({"": ["The answer is 5.", "The answer is 4."]}))
    base = {"name": "beam", "params": {"n": 1, "width": 1, "prm": "fake"}}
    result = BestOfN(n=3, base=base, prm=FakePRM({"The answer is 4.": 0.9})).search(Q, gen)
    assert [s.answer for s in result.samples] == ["5", "4", "5"]
    assert result.answer == "4"
    assert result.compute.model_calls == 3 and result.compute.prm_calls == 3 + 1  # 3 inner beams, 1 outer scoring
    tree = result.tree
    assert tree.out_degree(0) == 3 and {tree.nodes[n]["run"] for n in tree.successors(0)} == {0, 1, 2}


def test_composed_runs_stay_inside_the_outer_budget():
    gen = FakeGenerator(["one two three four The answer is 5."], cycle=True)  # 8 tokens each
    result = SelfConsistency(n=10, base={"name": "cot", "params": {"max_tokens": 8}}, budget=Budget(tokens=20)).search(
        Q, gen
    )
    assert len(result.samples) == 2  # the third cot run cannot be paid for: 20 - 16 < 8
    assert result.compute.generated_tokens == 16 and result.answer == "5"


def test_self_consistency_over_tree_searches_votes_their_answers():
    gen = FakeGenerator(by_prefix({"": ["The answer is 4.", "The answer is 5.", "The answer is 5."]}))
    base = {"name": "tot-bfs", "params": {"breadth": 1, "children": 1, "prm": "fake"}}
    result = SelfConsistency(n=3, base=base).search(Q, gen)
    assert [(c.answer, c.votes) for c in result.candidates] == [("5", 2), ("4", 1)]


def test_unknown_base_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown base searcher 'nope'"):
        BestOfN(base="nope")


def test_a_base_without_a_budget_field_still_runs_inside_the_outer_budget():
    """Composition wraps the generator: no field named `budget` is needed, and none can overspend."""

    class NoBudget:  # asks for 8-token samples, knows nothing of budgets
        strategy = "plain"

        def search(self, problem, generator):
            import time

            from reason.searchers.sampling import finish, sample_solutions

            samples, metered = sample_solutions(problem, generator, SamplingParams(max_tokens=8), Budget())
            return finish("plain", problem, samples, metered.compute(), time.perf_counter())

    gen = FakeGenerator(["one two three four The answer is 5."], cycle=True)  # 8 tokens each
    result = SelfConsistency(n=10, base=NoBudget(), budget=Budget(tokens=20)).search(Q, gen)
    assert len(result.samples) == 2 and result.compute.generated_tokens == 16  # a third would need 8 > 4 left


def test_an_inner_budget_never_exceeds_the_outer_one():
    gen = FakeGenerator(["one two three four The answer is 5."], cycle=True)
    base = {"name": "cot", "params": {"max_tokens": 8, "budget": {"tokens": 1000}}}  # generous inner budget
    result = SelfConsistency(n=10, base=base, budget=Budget(tokens=20)).search(Q, gen)
    assert result.compute.generated_tokens == 16 and len(result.samples) == 2
    tight = {"name": "cot", "params": {"max_tokens": 8, "budget": {"tokens": 7}}}  # inner tighter: nothing fits
    assert SelfConsistency(n=3, base=tight, budget=Budget(tokens=100)).search(Q, gen).samples == ()


@pytest.mark.parametrize(
    ("answers", "n", "drawn", "stopped"),
    [
        ("444444", 5, 3, "decided"),  # 3 - 0 > 2 left
        ("454444", 5, 4, "decided"),  # after 3: 2 - 1 = 1, not > 2 left; after 4: 3 - 1 > 1 left
        ("4455", 4, 4, "n"),  # after 2: 2 - 0 is not > 2 left (the rest could tie)
        ("45454", 5, 5, "decided"),  # decided only by the last sample
    ],
)
def test_adaptive_sc_stops_exactly_when_the_lead_is_decisive(answers, n, drawn, stopped):
    gen = FakeGenerator([f"The answer is {a}." for a in answers])
    result = AdaptiveSelfConsistency(n=n, batch=1, confidence=None).search(Q, gen)
    assert (result.trace["drawn"], result.trace["stopped"]) == (drawn, stopped)
    assert len(gen.calls) == drawn and result.answer == "4"


def test_adaptive_sc_confidence_rule():
    assert beta_tail_above_half(4, 1) == pytest.approx(0.9375) and beta_tail_above_half(1, 1) == 0.5
    gen = FakeGenerator(["The answer is 7."], cycle=True)
    result = AdaptiveSelfConsistency(n=20, batch=1, confidence=0.9).search(Q, gen)
    assert (result.trace["drawn"], result.trace["stopped"]) == (3, "confident")  # 1 - 2**-4 >= .9 > 1 - 2**-3


def test_adaptive_sc_batches_and_budget():
    gen = FakeGenerator(["a b c The answer is 1.", "d e f The answer is 2."], cycle=True)  # 6 tokens each
    result = AdaptiveSelfConsistency(n=10, batch=3, max_tokens=6, confidence=None, budget=Budget(tokens=20)).search(
        Q, gen
    )
    assert [c.params.n for c in gen.calls] == [3]  # 18 spent; 2 left cannot pay for a 6-token sample
    assert result.trace["stopped"] == "budget" and result.compute.generated_tokens <= 20


def test_refine_feeds_the_verdict_back_until_the_verifier_passes():
    seen = []

    def even(problem, answer):
        seen.append(problem.answer)
        return Verdict(
            status="pass" if int(answer) % 2 == 0 else "fail", detail=f"{answer} is odd, expected an even count"
        )

    gen = FakeGenerator(["I think 3.\nThe answer is 3.", "Recounting: 4.\nThe answer is 4."])
    result = VerifierRefine(verifier=even, max_rounds=3).search(Q, gen)
    assert result.answer == "4" and len(gen.calls) == 2
    retry = gen.calls[1].prompts[0]
    assert "assistant: I think 3." in retry and "3 is odd, expected an even count" in retry
    assert seen == [None, None]  # the verifier never sees the reference answer
    assert [v["status"] for v in result.trace["verdicts"]] == ["fail", "pass"]
    assert result.tree.number_of_edges() == 2  # root -> attempt 1 -> attempt 2


def test_refine_builtin_checks_need_no_verifier():
    gen = FakeGenerator(["I am not sure how to count these.", "The answer is 6."])
    result = VerifierRefine(max_rounds=3).search(Q, gen)
    assert "no final answer was found" in gen.calls[1].prompts[0]
    assert result.answer == "6" and len(gen.calls) == 2


def test_refine_stops_when_the_verifier_cannot_decide_and_keeps_the_round_cap():
    undecided = VerifierRefine(verifier="match", max_rounds=3).search(
        Q, FakeGenerator(["The answer is 4."], cycle=True)
    )
    assert len(undecided.trace["verdicts"]) == 1 and undecided.trace["verdicts"][0]["status"] == "error"
    capped = VerifierRefine(verifier=lambda p, a: False, max_rounds=2).search(
        Q, FakeGenerator(["The answer is 4."], cycle=True)
    )
    assert len(capped.samples) == 2 and capped.answer == "4"  # nothing accepted: the most frequent answer


def test_the_root_prompt_is_counted_once_from_the_first_call():
    """Refinement sends a longer prompt every round; the tree's root is the first prompt, not an average."""
    gen = FakeGenerator(["I am not sure how to count these.", "The answer is 6."])
    result = VerifierRefine(max_rounds=3).search(Q, gen)
    first, second = (len(call.prompts[0].split()) for call in gen.calls)  # the fake counts words as tokens
    assert second > first and result.tree.nodes[0]["tokens"] == first
