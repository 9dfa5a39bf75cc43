"""Beam search, breadth-first and depth-first tree-of-thought, DVTS: scripted steps, scripted PRM scores."""

import pytest

from reason.budget import Budget
from reason.searchers.beam import BeamSearch
from reason.searchers.dvts import DVTS
from reason.searchers.tot_bfs import TreeOfThoughtBFS
from reason.searchers.tot_dfs import TreeOfThoughtDFS
from reason.testing import FakeGenerator, FakePRM, by_prefix
from reason.types import Problem

Q = Problem(question="A puzzle?")


def _prefixes(call) -> list[str]:
    return [p.rsplit("assistant: ", 1)[-1] for p in call.prompts]


BEAM_STEPS = {
    "": ["A", "B", "C", "D"],
    "A": ["A1", "A2"],
    "B": ["B1", "B2"],
    "A\n\nA1": ["The answer is 1."],
    "A\n\nA2": ["The answer is 2."],
    "B\n\nB1": ["The answer is 3."],
    "B\n\nB2": ["The answer is 4."],
}
BEAM_SCORES = {"A": 0.9, "B": 0.4, "C": 0.3, "D": 0.2, "A1": 0.5, "A2": 0.45, "B1": 0.95, "B2": 0.9}


@pytest.mark.parametrize(
    ("step_score", "kept"),
    [("last", ["B\n\nB1\n\n", "B\n\nB2\n\n"]), ("min", ["A\n\nA1\n\n", "A\n\nA2\n\n"])],
)
def test_beam_keeps_the_top_k_by_reduced_step_score(step_score, kept):
    gen = FakeGenerator(by_prefix(BEAM_STEPS))
    prm = FakePRM(BEAM_SCORES, default=0.7)
    result = BeamSearch(n=4, width=2, prm=prm, step_score=step_score).search(Q, gen)
    # one call per step: the root with n=4, then the 2 kept beams with width=2 each, in ONE call
    assert [len(c.prompts) for c in gen.calls] == [1, 2, 2]
    assert [c.params.n for c in gen.calls] == [4, 2, 2]
    assert _prefixes(gen.calls[1]) == ["A\n\n", "B\n\n"]  # top 2 of A .9, B .4, C .3, D .2
    assert _prefixes(gen.calls[2]) == kept
    pruned = {d["text"] for _, d in result.tree.nodes(data=True) if d["pruned"]}
    assert pruned == {"C", "D"} | ({"A1", "A2"} if step_score == "last" else {"B1", "B2"})
    assert result.trace["completed"] == 4 and len(result.samples) == 4
    assert all(s.text.endswith(".") and s.answer for s in result.samples)


def test_children_are_asked_for_with_the_tokens_their_parent_was_generated_as():
    gen = FakeGenerator(by_prefix(BEAM_STEPS))
    BeamSearch(n=4, width=2, prm=FakePRM(BEAM_SCORES, default=0.7)).search(Q, gen)
    assert [p.continues for p in gen.calls[0].sent] == [()]  # the root: nothing generated yet
    for call in gen.calls[1:]:
        for sent, rendered in zip(call.sent, call.prompts):
            # the parent's prompt ids plus its step's ids: the tokens of exactly this prompt
            assert sent.continues and sent.continues == gen.tokenize(rendered)


def test_beam_answer_is_the_best_finished_solution():
    prm = FakePRM({**BEAM_SCORES, "The answer is 3.": 0.99}, default=0.7)
    result = BeamSearch(n=4, width=2, prm=prm).search(Q, FakeGenerator(by_prefix(BEAM_STEPS)))
    assert result.answer == "3"
    assert result.candidates[0].score == pytest.approx(0.99)
    assert result.reasoning == "B\n\nB1\n\nThe answer is 3."


def test_beam_shrinks_its_batch_to_the_budget_and_reports_policy_and_prm_compute():
    gen = FakeGenerator(by_prefix(BEAM_STEPS))
    # 5 tokens per step at most: 4 + 4 one-word steps spent, 25 - 8 = 17 left, so the last call can pay for 3 -> 2x1
    result = BeamSearch(n=4, width=2, step_tokens=5, prm=FakePRM(BEAM_SCORES), budget=Budget(tokens=25)).search(Q, gen)
    assert [c.params.n for c in gen.calls] == [4, 2, 1]
    assert result.compute.generated_tokens <= 25
    assert result.compute.model_calls == 3 and result.compute.prm_calls == 3
    assert result.compute.prm_generated_tokens == 0  # a scripted PRM runs no model


def test_beam_stops_when_the_call_budget_is_spent():
    gen = FakeGenerator(by_prefix(BEAM_STEPS))
    result = BeamSearch(n=4, width=2, prm=FakePRM(BEAM_SCORES), budget=Budget(calls=2)).search(Q, gen)
    assert len(gen.calls) == 2 and result.compute.model_calls == 2
    assert result.trace["completed"] == 0 and len(result.samples) == 2  # the open beams stand in


def test_tot_bfs_keeps_breadth_states_and_carries_finished_ones():
    steps = {"": ["A", "B"], "A": ["A1", "A2"], "B": ["B1", "The answer is 4."], "A\n\nA1": ["The answer is 3."]}
    scores = {"A": 0.6, "B": 0.5, "A1": 0.9, "A2": 0.2, "B1": 0.3, "The answer is 4.": 0.8, "The answer is 3.": 0.7}
    gen = FakeGenerator(by_prefix(steps))
    result = TreeOfThoughtBFS(breadth=2, children=2, prm=FakePRM(scores)).search(Q, gen)
    assert [_prefixes(c) for c in gen.calls] == [[""], ["A\n\n", "B\n\n"], ["A\n\nA1\n\n"]]  # only open states grow
    assert result.trace["depth"] == 3
    assert result.answer == "4"  # the finished B-path (.8) beat both new finished A-paths (.7)
    assert [c.answer for c in result.candidates] == ["4", "3"]


def test_tot_dfs_backtracks_when_every_child_is_below_threshold():
    steps = {"": ["good", "meh"], "good": ["bad1", "bad2"], "meh": ["x", "The answer is 5."]}
    scores = {"good": 0.9, "meh": 0.6, "bad1": 0.1, "bad2": 0.2, "x": 0.3, "The answer is 5.": 0.8}
    gen = FakeGenerator(by_prefix(steps))
    result = TreeOfThoughtDFS(children=2, threshold=0.5, prm=FakePRM(scores)).search(Q, gen)
    assert [_prefixes(c) for c in gen.calls] == [[""], ["good\n\n"], ["meh\n\n"]]  # good first, then back up to meh
    pruned = {d["text"] for _, d in result.tree.nodes(data=True) if d["pruned"]}
    assert pruned == {"bad1", "bad2", "x"}
    assert result.answer == "5" and result.trace == {**result.trace, "expansions": 3, "accepted": 1}


def test_tot_dfs_without_an_acceptable_solution_falls_back_to_what_it_found():
    steps = {"": ["The answer is 1.", "The answer is 2."]}
    result = TreeOfThoughtDFS(children=2, threshold=0.9, prm=FakePRM({"The answer is 2.": 0.6}, default=0.1)).search(
        Q, FakeGenerator(by_prefix(steps))
    )
    assert result.trace["accepted"] == 0 and result.answer == "2"


def test_dvts_subtrees_do_not_compete():
    steps = {"": ["A", "B", "C", "D"], "A": ["The answer is 1.", "A2"], "D": ["The answer is 2.", "D2"]}
    scores = {"A": 0.9, "B": 0.85, "C": 0.2, "D": 0.3, "The answer is 1.": 0.7, "The answer is 2.": 0.6}
    gen = FakeGenerator(by_prefix(steps))
    result = DVTS(n=4, width=2, prm=FakePRM(scores, default=0.1)).search(Q, gen)
    assert [c.params.n for c in gen.calls] == [2, 2] and len(gen.calls[0].prompts) == 2
    # subtree 1 drew A, B and keeps A; subtree 2 drew C, D and keeps D although B scores higher than D
    assert _prefixes(gen.calls[1]) == ["A\n\n", "D\n\n"]
    assert [(c.answer, c.votes) for c in result.candidates] == [("1", 1), ("2", 1)]
    assert result.trace["subtrees"] == 2


def test_a_step_the_model_ended_is_the_last_even_without_an_answer():
    """EOS closes the solution: no call is spent asking an ended solution for its next step."""
    from reason.types import EOS

    steps = {"": ["First step", f"I give up.{EOS}"], "First step": ["The answer is 2."]}
    gen = FakeGenerator(by_prefix(steps))
    result = BeamSearch(n=2, width=1, prm=FakePRM(default=0.5)).search(Q, gen)
    assert [_prefixes(c) for c in gen.calls] == [[""], ["First step\n\n"]]  # the ended one was not continued
    ended = [d for _, d in result.tree.nodes(data=True) if d["text"] == "I give up."]
    assert ended[0]["terminal"] and ended[0]["answer"] is None
    assert result.answer == "2"
