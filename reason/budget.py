"""Compute budgets: a cap on generated tokens and/or model calls, checked before every call.

A searcher asks `affordable(wanted, max_tokens)` before it calls the model and shrinks
its batch, or stops, when the worst case (every sample running to `max_tokens`) would
not fit. `BudgetedGenerator` refuses any call whose worst case could overrun what is
left, so a budget is never exceeded, even by a searcher that forgets to ask.

The cap applies to the generator it wraps: the policy model. What a PRM spends is
reported beside it (`Compute.prm_*`) but not capped, because its cost is of another
kind (a forward pass for a Hugging Face PRM, one token per judged step for the judge).
Leaves out: wall-clock budgets (not reproducible) and caps on prompt tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from reason.errors import BudgetExceededError
from reason.generator import Generator, MeteredGenerator
from reason.types import Completion, Frozen, Prompt, SamplingParams


class Budget(Frozen):
    """What one search may spend on the policy model; None means no cap.

    Example:
        >>> Budget(tokens=2000, calls=50).tokens
        2000
    """

    tokens: int | None = Field(default=None, ge=0)
    """Most generated tokens, summed over every sample of every call."""
    calls: int | None = Field(default=None, ge=0)
    """Most `generate` calls (a batch of prompts is one call)."""


def plan_batch(prompts: int, per_prompt: int, affordable: int) -> tuple[int, int]:
    """Shrink a batch of `prompts` x `per_prompt` samples to at most `affordable` samples.

    Fewer samples per prompt first (every prompt still advances), then fewer prompts
    (the first ones, which callers order best first).
    Example: plan_batch(4, 3, 9) -> (4, 2); plan_batch(4, 3, 2) -> (2, 1); plan_batch(4, 3, 0) -> (0, 0)
    """
    if affordable >= prompts * per_prompt:
        return prompts, per_prompt
    if affordable >= prompts:
        return prompts, affordable // prompts
    return affordable, (1 if affordable else 0)


class BudgetedGenerator(MeteredGenerator):
    """A metered generator that never lets its budget be exceeded.

    Wrapping another `BudgetedGenerator` nests budgets: `affordable` is the least of every
    budget in the chain, and a call must fit them all. That is how a composed searcher
    (best-of-N over beam search) keeps its inner searches inside the outer budget: it hands
    each run its own `BudgetedGenerator` as the generator, and whatever budget the inner
    searcher has (or none) can never spend past it.
    """

    def __init__(self, inner: Generator, budget: Budget | None = None, role: str = "policy") -> None:
        super().__init__(inner, role=role)
        self.budget = budget or Budget()

    def remaining_tokens(self) -> int | None:
        cap = self.budget.tokens
        return None if cap is None else cap - self.generated_tokens

    def remaining_calls(self) -> int | None:
        cap = self.budget.calls
        return None if cap is None else cap - self.calls

    def affordable(self, wanted: int, max_tokens: int) -> int:
        """How many of `wanted` samples of up to `max_tokens` each one more call may draw
        (under this budget and every budget it is nested in)."""
        calls, tokens = self.remaining_calls(), self.remaining_tokens()
        if calls is not None and calls <= 0:
            return 0
        mine = wanted if tokens is None else max(0, min(wanted, tokens // max_tokens))
        outer = _outer_budget(self.inner)
        return mine if outer is None else min(mine, outer.affordable(wanted, max_tokens))

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        worst = len(prompts) * params.n * params.max_tokens
        if self.affordable(len(prompts) * params.n, params.max_tokens) < len(prompts) * params.n:
            raise BudgetExceededError(
                f"a call of up to {worst} generated tokens does not fit the budget "
                f"(tokens left: {self.remaining_tokens()}, calls left: {self.remaining_calls()})"
            )
        return super().generate(prompts, params)


def _outer_budget(generator: Generator) -> BudgetedGenerator | None:
    """The nearest `BudgetedGenerator` under `generator` (through metering wrappers), if any."""
    while isinstance(generator, MeteredGenerator):
        if isinstance(generator, BudgetedGenerator):
            return generator
        generator = generator.inner
    return None
