"""Searchers over searchers: run a base searcher several times inside one budget.

Best-of-N and self-consistency take a `base` (a registered name, a
`SearcherSpec(name=..., params=...)` or dict of one, or a searcher object) and call it
repeatedly. The runs share one `BudgetedGenerator` of the outer budget as their generator,
so whatever budget a base searcher has (or none) they together never exceed it, and the
compute reported is the sum of what the runs report (their policy and PRM shares stay
separate). The runs' trees are grafted under one root.
Leaves out: running the base searches concurrently.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from reason.budget import Budget, BudgetedGenerator
from reason.errors import BudgetExceededError
from reason.generator import Generator
from reason.registry import ComponentSpec, build_choice, component_choice
from reason.searcher import Searcher
from reason.searchers.sampling import sample_solutions, sample_tree
from reason.tree import ROOT, SearchTree, graph_from_json
from reason.types import (
    Compute,
    Problem,
    Sample,
    SamplingParams,
    SearchResult,
    Validated,
)

SearcherSpec = ComponentSpec
"""A registered searcher by name, with its parameters."""


def searcher_choice(value: Any) -> Any:
    """Validate a `base`: a registered name, a SearcherSpec (or dict of one), or a searcher object."""
    return component_choice("searcher", value, Searcher, "base searcher", "a searcher")


def build_searcher(choice: Any) -> Searcher:
    searcher: Searcher = build_choice("searcher", searcher_choice(choice))
    return searcher


def repeat_search(base: Searcher, problem: Problem, generator: Generator, n: int, budget: Budget) -> list[SearchResult]:
    """Up to `n` runs of `base`, all drawing from one `budget` (the base's own budget nests inside it)."""
    shared = BudgetedGenerator(generator, budget)
    results: list[SearchResult] = []
    for _ in range(n):
        if shared.affordable(1, 1) == 0:
            break
        try:
            result = base.search(problem, shared)
        except BudgetExceededError:
            break  # a base that does not plan with its budget asked for more than is left
        if result.compute.model_calls == 0:
            break  # the budget left cannot pay for one more call
        results.append(result)
    return results


def as_samples(results: list[SearchResult]) -> list[Sample]:
    """One sample per run: its chosen reasoning and answer, with the tokens the run generated."""
    return [Sample(text=r.reasoning, answer=r.answer, generated_tokens=r.compute.generated_tokens) for r in results]


def total_compute(results: list[SearchResult]) -> Compute:
    total = Compute()
    for r in results:
        total = total + r.compute.model_copy(update={"wall_time_s": 0.0})
    return total


def grafted_tree(results: list[SearchResult]) -> SearchTree:
    """One tree: a new root whose children are the runs' roots (each keeps its subtree)."""
    tree = SearchTree()
    for run, result in enumerate(results):
        if result.search_tree is None:
            continue
        sub = graph_from_json(result.search_tree)
        offset = tree.graph.number_of_nodes()
        for node, data in sub.nodes(data=True):
            tree.graph.add_node(node + offset, **{**data, "depth": data["depth"] + 1, "run": run})
        tree.graph.add_edges_from((a + offset, b + offset) for a, b in sub.edges)
        tree.graph.add_edge(ROOT, ROOT + offset)
    return tree


CONFIDENCE_TOP_LOGPROBS = 5
"""Top candidates per token asked for when the vote reads the samples' confidence."""


class NSolutions(Validated):
    """Parameters and drawing shared by searchers that collect N whole solutions: sampled in one
    batched call, or (with `base`) one run of an inner searcher each, all inside the budget."""

    n: int = Field(default=8, ge=1)
    temperature: float = Field(default=0.7, gt=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=512, ge=1)
    """Most tokens per solution (without `base`)."""
    seed: int | None = None
    """Per-request seed; None leaves sampling to the engine's own seed."""
    base: Any = None
    """Optional inner searcher run n times: a registered name, a SearcherSpec (or dict), or a searcher."""
    budget: Budget = Budget()

    @field_validator("base")
    @classmethod
    def _check_base(cls, value: Any) -> Any:
        return None if value is None else searcher_choice(value)

    def draw_solutions(self, problem: Problem, generator: Generator) -> tuple[list[Sample], Compute, SearchTree]:
        """The N solutions, what they cost, and their tree (flat, or grafted from the base runs)."""
        if self.base is not None:
            results = repeat_search(build_searcher(self.base), problem, generator, self.n, self.budget)
            return as_samples(results), total_compute(results), grafted_tree(results)
        wants_confidence = getattr(self, "select", None) == "confidence"
        params = SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, n=self.n, seed=self.seed,
            logprobs=CONFIDENCE_TOP_LOGPROBS if wants_confidence else None,
        )
        samples, metered = sample_solutions(problem, generator, params, self.budget)
        prompt_tokens = metered.root_prompt_tokens
        return samples, metered.compute(), sample_tree(samples, prompt_tokens)
