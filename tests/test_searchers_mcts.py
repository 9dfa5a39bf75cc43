"""MCTS: UCT selection, expansion, PRM or rollout evaluation and backed-up statistics, worked out by hand."""

import math

import pytest

from reason.budget import Budget
from reason.testing import FakeGenerator, FakePRM, by_prefix
from reason.tree import ROOT
from reason.types import Problem
from searchers.mcts import MCTS

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


def test_rollout_evaluation_values_a_child_by_its_finished_rollout():
    steps = by_prefix(STEPS)

    def script(prompt, params):
        prefix = prompt.rsplit("assistant: ", 1)[-1]
        if not params.stop:  # a rollout: no step delimiter, the rest of the solution
            return {"A\n\n": "A-roll\n\nThe answer is 5.", "B\n\n": "B-roll\n\nThe answer is 6."}[prefix]
        return steps(prompt, params)

    prm = FakePRM({"A-roll": 0.2, "B-roll": 0.9})
    result = MCTS(iterations=1, children=2, evaluation="rollout", aggregation="min", prm=prm).search(
        Q, FakeGenerator(script)
    )
    nodes = _by_text(result)
    assert nodes["A"]["value_sum"] == pytest.approx(0.2) and nodes["B"]["value_sum"] == pytest.approx(0.5)
    assert nodes["A"]["rollout"] == "A-roll\n\nThe answer is 5."
    assert prm.history[-1] == [["A", "A-roll", "The answer is 5."], ["B", "B-roll", "The answer is 6."]]


def test_budget_ends_the_search_early():
    gen = FakeGenerator(by_prefix(STEPS))
    result = MCTS(iterations=10, children=2, max_tokens=4, prm=FakePRM(SCORES), budget=Budget(tokens=10)).search(Q, gen)
    assert result.compute.generated_tokens <= 10
    assert result.trace["iterations"] < 10


def test_unknown_evaluation_is_rejected():
    with pytest.raises(ValueError, match="evaluations: prm, rollout"):
        MCTS(evaluation="coin-flip")
