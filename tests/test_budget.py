"""Budgets nest by wrapping the generator: the inner one never spends past the outer one."""

import pytest

from reason.budget import Budget, BudgetedGenerator, plan_batch
from reason.errors import BudgetExceededError
from reason.generator import MeteredGenerator
from reason.testing import FakeGenerator
from reason.types import SamplingParams

EIGHT = FakeGenerator(["one two three four five six seven eight"], cycle=True)


def test_affordable_is_the_least_of_every_budget_in_the_chain():
    outer = BudgetedGenerator(EIGHT, Budget(tokens=20))
    inner = BudgetedGenerator(MeteredGenerator(outer), Budget(tokens=1000))  # through a plain meter too
    assert inner.affordable(10, 8) == 2 == outer.affordable(10, 8)
    inner.generate(["q"], SamplingParams(max_tokens=8, n=2, temperature=0.7))
    assert outer.generated_tokens == inner.generated_tokens == 16
    assert inner.affordable(10, 8) == 0  # 4 tokens left outside, though 984 inside
    with pytest.raises(BudgetExceededError):
        inner.generate(["q"], SamplingParams(max_tokens=8))


def test_a_tighter_inner_budget_decides_and_calls_count_in_both():
    outer = BudgetedGenerator(EIGHT, Budget(calls=5))
    inner = BudgetedGenerator(outer, Budget(calls=1))
    inner.generate(["q"], SamplingParams(max_tokens=8))
    assert (inner.calls, outer.calls) == (1, 1) and inner.affordable(1, 8) == 0 and outer.affordable(1, 8) == 1


@pytest.mark.parametrize(("args", "planned"), [((4, 3, 9), (4, 2)), ((4, 3, 2), (2, 1)), ((4, 3, 0), (0, 0))])
def test_plan_batch_examples(args, planned):
    assert plan_batch(*args) == planned
