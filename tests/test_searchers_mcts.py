"""MCTS: UCT selection, expansion, PRM or rollout evaluation and backed-up statistics, worked out by hand."""

import math

import pytest

from reason.budget import Budget
from reason.searchers.mcts import MCTS
from reason.testing import FakeGenerator, FakePRM, by_prefix
from reason.tree import ROOT, SearchTree
from reason.types import Problem

Q = Problem(question="A puzzle?")
STEPS = {"": ["A", "B"], "A": ["A1", "The answer is 7."], "A\n\nA1": ["The answer is 8.", "The answer is 9."]}
SCORES = {"A": 0.9, "B": 0.1, "A1": 0.6, "The answer is 7.": 0.8, "The answer is 8.": 0.3, "The answer is 9.": 0.2}


def _by_text(result):
    return {d["text"]: d for n, d in result.tree.nodes(data=True) if n != ROOT}


def test_visit_counts_and_backed_up_values_after_three_iterations():
    gen = FakeGenerator(by_prefix(STEPS))
    result = MCTS(iterations=3, children=2, c_uct=1.0, prm=FakePRM(SCORES)).search(Q, gen)
    # 1: expand root -> A (.9), B (.1)
    # 2: UCT at root: A .9 + sqrt(ln 2) > B .1 + sqrt(ln 2) -> expand A -> A1 (.6), "7" (.8, finished)
    # 3: root: A 2.3/3 + sqrt(ln 4 / 3) = 1.447 > B .1 + sqrt(ln 4) = 1.277; at A: "7" .8 + sqrt(ln 3) > A1 .6 + sqrt(ln 3)
    #    -> a finished leaf: no expansion, its value .8 is backed up again
    nodes = _by_text(result)
    root = result.tree.nodes[ROOT]
    assert (root["visits"], root["value_sum"]) == (5, pytest.approx(3.2))
    assert (nodes["A"]["visits"], nodes["A"]["value_sum"]) == (4, pytest.approx(3.1))
    assert (nodes["B"]["visits"], nodes["B"]["value_sum"]) == (1, pytest.approx(0.1))
    assert (nodes["A1"]["visits"], nodes["A1"]["value_sum"]) == (1, pytest.approx(0.6))
    assert (nodes["The answer is 7."]["visits"], nodes["The answer is 7."]["value_sum"]) == (2, pytest.approx(1.6))
    assert len(gen.calls) == 2  # the third iteration re-visited a finished leaf
    assert result.answer == "7" and result.trace["iterations"] == 3


def test_fourth_iteration_explores_the_less_visited_sibling():
    gen = FakeGenerator(by_prefix(STEPS))
    result = MCTS(iterations=4, children=2, c_uct=1.0, prm=FakePRM(SCORES)).search(Q, gen)
    # at A (4 visits): A1 .6 + sqrt(ln 4 / 1) = 1.777 beats "7" .8 + sqrt(ln 4 / 2) = 1.633
    assert math.isclose(0.6 + math.sqrt(math.log(4)), 1.7774, abs_tol=1e-3)
    assert gen.calls[-1].prompts[0].endswith("A\n\nA1\n\n")
    nodes = _by_text(result)
    assert nodes["A1"]["visits"] == 3 and nodes["A1"]["value_sum"] == pytest.approx(0.6 + 0.3 + 0.2)
    assert [c.answer for c in result.candidates] == ["7", "8", "9"]  # by mean backed-up value


def test_no_exploration_term_is_greedy():
    gen = FakeGenerator(by_prefix(STEPS))
    MCTS(iterations=3, children=2, c_uct=0.0, prm=FakePRM(SCORES)).search(Q, gen)
    # greedy: A then "7" (finished) forever; A1 is never expanded
    assert len(gen.calls) == 2


def _rollout_script(rollouts):
    steps = by_prefix(STEPS)

    def script(prompt, params):
        prefix = prompt.rsplit("assistant: ", 1)[-1]
        if not params.stop:  # a rollout: no step delimiter, the rest of the solution
            return rollouts[prefix]
        return steps(prompt, params)

    return script


def test_rollout_evaluation_values_a_child_by_its_finished_rollout_kept_in_the_tree():
    rollouts = {"A\n\n": "A-roll\n\nThe answer is 5.", "B\n\n": "B-roll\n\nThe answer is 6."}
    prm = FakePRM({"A-roll": 0.2, "B-roll": 0.9})
    gen = FakeGenerator(_rollout_script(rollouts))
    result = MCTS(iterations=1, children=2, evaluation="rollout", step_score="min", prm=prm).search(Q, gen)
    nodes = _by_text(result)
    assert nodes["A"]["value_sum"] == pytest.approx(0.2) and nodes["B"]["value_sum"] == pytest.approx(0.5)
    # each rollout is a chain under its child, backed up from its last step, and a finished candidate
    tree = result.tree
    assert [tree.nodes[n]["text"] for n in tree.successors(next(n for n, d in tree.nodes(data=True) if d["text"] == "A"))] == ["A-roll"]
    assert nodes["The answer is 5."]["terminal"] and nodes["The answer is 5."]["visits"] == 1
    assert nodes["A-roll"]["value"] == pytest.approx(0.2) and nodes["A-roll"]["score"] == pytest.approx(0.2)
    assert sorted(c.answer for c in result.candidates) == ["5", "6"]
    assert prm.history == [[["A", "A-roll", "The answer is 5."], ["B", "B-roll", "The answer is 6."]]]  # one PRM call
    # the rollout's tokens are in the tree: what was generated is what the tree holds
    assert result.compute.generated_tokens == sum(d["tokens"] for n, d in tree.nodes(data=True) if n != ROOT)


def test_a_rollout_step_is_branched_from_on_its_own_prefix():
    """Iteration 2 selects A (higher value) and expands it by the one step its rollout did not give it."""
    rollouts = {
        "A\n\n": "A-roll\n\nThe answer is 5.",
        "B\n\n": "B-roll\n\nThe answer is 6.",
        "A\n\nA1\n\n": "The answer is 8.",
    }
    prm = FakePRM({"A": 0.9, "B": 0.1, "A-roll": 0.8, "B-roll": 0.2, "A1": 0.6}, default=0.5)
    gen = FakeGenerator(_rollout_script(rollouts))
    result = MCTS(iterations=2, children=2, evaluation="rollout", prm=prm).search(Q, gen)
    expansions = [c for c in gen.calls if c.params.stop]
    assert [c.params.n for c in expansions] == [2, 1]  # A already had its rollout's first step as a child
    assert expansions[1].prompts[0].endswith("assistant: A\n\n")
    assert [result.tree.nodes[n]["text"] for n in result.tree.successors(1)] == ["A-roll", "A1"]
    nodes = _by_text(result)
    assert nodes["A"]["visits"] == 2 and nodes["The answer is 8."]["terminal"]


def test_every_step_of_a_grafted_rollout_is_continued_from_the_rollout_s_tokens():
    from reason.generator import render_transcript
    from reason.types import SamplingParams

    gen = FakeGenerator(["A-roll\n\nB-roll\n\nC-roll"])
    run = MCTS(prm=FakePRM()).start(Q, gen)
    [[rollout]] = gen.generate([run.proposer.prompt_for(run.tree, ROOT)], SamplingParams(max_tokens=64))
    chain = run.proposer.graft(run.tree, ROOT, rollout)
    for node in chain:
        prompt = run.proposer.prompt_for(run.tree, node)
        assert prompt.continues == rollout.prompt_token_ids + rollout.token_ids
        spelled = gen.tokenize(render_transcript(prompt))  # what a backend keeps: the part spelling the prefix
        assert prompt.continues[: len(spelled)] == spelled


def _graft(text, finish_reason="stop", tokens=12, max_steps=8):
    from reason.types import Completion

    run = MCTS(max_steps=max_steps, prm=FakePRM()).start(Q, FakeGenerator([]))
    completion = Completion(text=text, finish_reason=finish_reason, generated_tokens=tokens)
    return run.tree.graph, run.proposer.graft(run.tree, ROOT, completion)


def test_a_grafted_rollout_rebuilds_its_text_exactly_and_keeps_every_token():
    text = "First.\n\n\n\nSecond\n\nThird, cut mid-st"
    tree, chain = _graft(text, finish_reason="length", tokens=10)
    assert [tree.nodes[n]["text"] for n in chain] == ["First.", "\n\nSecond", "Third, cut mid-st"]
    assert SearchTree(tree).prefix(chain[-1]) == text  # children reuse the rollout's cached prefix
    assert tree.nodes[chain[-1]]["sep"] == "" and not tree.nodes[chain[-1]]["terminal"]  # continues mid-step
    assert sum(tree.nodes[n]["tokens"] for n in chain) == 10


def test_a_grafted_rollout_stops_at_the_answer_and_at_the_step_cap():
    tree, chain = _graft("a\n\nThe answer is 3.\n\nchatter after it")
    assert [tree.nodes[n]["text"] for n in chain] == ["a", "The answer is 3."]
    assert tree.nodes[chain[-1]]["terminal"] and tree.nodes[chain[-1]]["answer"] == "3"
    tree, chain = _graft("a\n\nb\n\nc\n\nd", max_steps=2)
    assert [tree.nodes[n]["text"] for n in chain] == ["a", "b\n\nc\n\nd"] and tree.nodes[chain[-1]]["terminal"]
    tree, chain = _graft("ends without an answer")  # the model stopped (EOS): a finished solution
    assert tree.nodes[chain[-1]]["terminal"] and tree.nodes[chain[-1]]["answer"] is None


@pytest.mark.parametrize(
    ("total", "weights", "parts"), [(10, [1, 1, 1], [3, 4, 3]), (7, [5, 0, 2], [5, 0, 2]), (0, [3], [0]), (5, [0, 0], [0, 5])]
)
def test_apportion_adds_up_exactly(total, weights, parts):
    from reason.searchers.stepwise import apportion

    assert apportion(total, weights) == parts and sum(parts) == total


def test_budget_ends_the_search_early():
    gen = FakeGenerator(by_prefix(STEPS))
    result = MCTS(iterations=10, children=2, step_tokens=4, prm=FakePRM(SCORES), budget=Budget(tokens=10)).search(Q, gen)
    assert result.compute.generated_tokens <= 10
    assert result.trace["iterations"] < 10


def test_unknown_evaluation_is_rejected():
    with pytest.raises(ValueError, match="evaluations: prm, rollout"):
        MCTS(evaluation="coin-flip")


def test_parallel_rounds_pick_leaves_with_virtual_loss_and_expand_them_in_one_call():
    steps = {**STEPS, "B": ["B1", "B2"]}
    scores = {**SCORES, "B1": 0.5, "B2": 0.4}
    gen = FakeGenerator(by_prefix(steps))
    result = MCTS(iterations=3, children=2, c_uct=2.0, parallel=2, prm=FakePRM(scores)).search(Q, gen)
    # round 1: the root is the only leaf (a second walk ends there too): A (.9), B (.1)
    # round 2: A wins (.9 + 2 sqrt(ln 2) = 2.565 > 1.765); with A's virtual loss (root 3 visits, A 2 of
    #   value .9): A .45 + 2 sqrt(ln 3 / 2) = 1.932 < B .1 + 2 sqrt(ln 3) = 2.196 -> B too; one call grows both
    assert len(gen.calls) == 2 and len(gen.calls[1].prompts) == 2
    nodes = _by_text(result)
    root = result.tree.nodes[ROOT]
    assert (root["visits"], root["value_sum"]) == (6, pytest.approx(3.3))  # the virtual visits are gone
    assert (nodes["A"]["visits"], nodes["A"]["value_sum"]) == (3, pytest.approx(2.3))
    assert (nodes["B"]["visits"], nodes["B"]["value_sum"]) == (3, pytest.approx(1.0))
    assert result.trace["iterations"] == 3  # one leaf in round 1, two in round 2
    sequential = FakeGenerator(by_prefix(steps))
    MCTS(iterations=3, children=2, c_uct=2.0, prm=FakePRM(scores)).search(Q, sequential)
    assert len(sequential.calls) == 3


def test_a_parallel_round_stops_picking_when_every_walk_ends_at_the_same_leaf():
    gen = FakeGenerator(by_prefix(STEPS))
    result = MCTS(iterations=3, children=2, c_uct=1.0, parallel=4, prm=FakePRM(SCORES)).search(Q, gen)
    # round 2: after A's virtual loss, A .45 + sqrt(ln 3 / 2) = 1.191 still beats B .1 + sqrt(ln 3) = 1.148
    assert [len(call.prompts) for call in gen.calls] == [1, 1]
    assert result.trace["iterations"] == 3 and result.answer == "7"
