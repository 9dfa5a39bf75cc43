"""What the tree searchers share: their config, the step proposer, the step scorer, the result.

llm-reasoners' split, kept as immutable as a search allows: `StepProposer` turns
frontier nodes into children — all children of a frontier in ONE model call, each
node's children sharing its prompt (the chat plus the steps so far as the assistant
prefix) so the backend's prefix cache reuses it; `StepScorer` runs the PRM on new
nodes and aggregates; each algorithm (beam, MCTS, ...) is its own module and only
decides what to expand and what to keep. The `SearchTree` is the one mutable thing.
Leaves out: the algorithms themselves.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from prm.base import AGGREGATIONS, Aggregation, MeteredPRM, build_prm
from reason.budget import Budget, BudgetedGenerator, plan_batch
from reason.generator import Generator
from reason.steps import FINAL_RULES, is_final
from reason.tasks import TaskStyle, task_style
from reason.tree import ROOT, SearchTree
from reason.types import (
    EOS,
    ChatPrompt,
    Completion,
    Problem,
    Sample,
    SamplingParams,
    SearchResult,
)
from searchers.sampling import finish
from searchers.scored import ScoredSearchConfig
from verifiers.extract import RULES


class StepSearchConfig(ScoredSearchConfig):
    """Parameters every tree searcher takes (each adds its own shape: beams, iterations, ...)."""

    temperature: float = Field(default=0.8, gt=0.0)
    max_tokens: int = Field(default=128, ge=1)
    """Most tokens per step."""
    max_steps: int = Field(default=8, ge=1)
    """Step cap: a path this deep is finished whether or not it stated an answer."""
    delimiter: str = Field(default="\n\n", min_length=1)
    """Ends a step (sent as the stop string)."""
    final_rules: tuple[str, ...] = FINAL_RULES
    """Extraction rules whose match marks a step as the last one."""
    seed: int | None = None
    budget: Budget = Budget()

    @field_validator("final_rules")
    @classmethod
    def _check_final_rules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [r for r in value if r not in RULES]
        if unknown:
            raise ValueError(f"unknown extraction rules {unknown}; rules: {', '.join(RULES)}")
        return value

    def start(self, problem: Problem, generator: Generator) -> SearchRun:
        """Set up one search: metered policy and PRM, proposer, scorer, an empty tree."""
        style = task_style(problem.task)
        policy = BudgetedGenerator(generator, self.budget)
        params = SamplingParams(
            temperature=self.temperature, max_tokens=self.max_tokens, stop=(self.delimiter,), seed=self.seed
        )
        proposer = StepProposer(style, style.prompt(problem), policy, params, self.final_rules, self.max_steps)
        scorer = StepScorer(MeteredPRM(build_prm(self.prm), generator), problem, AGGREGATIONS[self.aggregation])
        return SearchRun(self, problem, style, proposer, scorer, SearchTree(), time.perf_counter())


@dataclass(frozen=True)
class StepProposer:
    """Generates the next step of many partial solutions in one call."""

    style: TaskStyle
    prompt: ChatPrompt
    policy: BudgetedGenerator
    params: SamplingParams
    final_rules: tuple[str, ...]
    max_steps: int

    def expand(self, tree: SearchTree, nodes: Sequence[int], k: int) -> list[list[int]]:
        """Up to k children for each node, in one call; fewer (or none, for the last nodes) to fit the budget.

        Nodes should come best first: when the budget cannot pay for all, the first ones advance.
        """
        affordable = self.policy.affordable(len(nodes) * k, self.params.max_tokens)
        count, per_node = plan_batch(len(nodes), k, affordable)
        if count == 0:
            return [[] for _ in nodes]
        prompts = [self.prompt.extended(tree.prefix(n)) for n in nodes[:count]]
        outputs = self.policy.generate(prompts, self.params.model_copy(update={"n": per_node}))
        grown = [[self._add(tree, node, c) for c in completions] for node, completions in zip(nodes, outputs)]
        return grown + [[] for _ in nodes[count:]]

    def _add(self, tree: SearchTree, parent: int, completion: Completion) -> int:
        if parent == ROOT:
            tree.update(ROOT, tokens=completion.prompt_tokens)
        text = completion.text
        cut = completion.finish_reason == "length"  # continue mid-step, no delimiter in between
        depth = tree.node(parent)["depth"] + 1
        ended = completion.stop_reason == EOS  # the model closed its answer: nothing follows this step
        terminal = ended or not text.strip() or is_final(text, self.final_rules) or depth >= self.max_steps
        node = tree.add_child(
            parent,
            text=text,
            sep="" if cut else self.params.stop[0],
            tokens=completion.generated_tokens,
            terminal=terminal,
        )
        if terminal:
            tree.update(node, answer=self.style.extract(tree.prefix(node)))
        return node


@dataclass(frozen=True)
class StepScorer:
    """Values nodes with the PRM: `score` is the node's own step score, `value` the aggregate of its path."""

    prm: MeteredPRM
    problem: Problem
    aggregate: Aggregation

    def score(self, tree: SearchTree, nodes: Sequence[int]) -> None:
        """Score the nodes not scored yet, in one PRM call; an empty step inherits its parent's value."""
        todo = [n for n in nodes if tree.node(n)["value"] is None]
        empty = [n for n in todo if not tree.node(n)["text"].strip()]
        fresh = [n for n in todo if n not in empty]
        for node, scores in zip(fresh, self.prm.score(self.problem, [tree.steps(n) for n in fresh])):
            tree.update(node, score=scores[-1], value=self.aggregate(scores))
        for node in empty:
            parent = tree.node(tree.parent(node))  # type: ignore[arg-type]
            tree.update(node, score=parent["score"], value=parent["value"] or 0.0)


@dataclass
class SearchRun:
    """One search in progress: the config, the parts, the tree being built."""

    config: StepSearchConfig
    problem: Problem
    style: TaskStyle
    proposer: StepProposer
    scorer: StepScorer
    tree: SearchTree
    started: float

    def expand(self, nodes: Sequence[int], k: int) -> list[int]:
        """All new children, flat; [] when the budget is spent."""
        return [c for group in self.proposer.expand(self.tree, nodes, k) for c in group]

    def expand_each(self, nodes: Sequence[int], k: int) -> list[list[int]]:
        """New children grouped by the node they grew from (same order as `nodes`)."""
        return self.proposer.expand(self.tree, nodes, k)

    def score(self, nodes: Sequence[int]) -> None:
        self.scorer.score(self.tree, nodes)

    def value(self, node: int) -> float:
        return self.tree.node(node)["value"] or 0.0

    def best_first(self, nodes: Sequence[int]) -> list[int]:
        """Nodes by value, highest first (stable: ties keep their order)."""
        return sorted(nodes, key=lambda n: -self.value(n))

    def result(
        self,
        strategy: str,
        finals: Sequence[int],
        trace: dict[str, Any] | None = None,
        scores: dict[int, float] | None = None,
    ) -> SearchResult:
        """The SearchResult over the given final nodes (finished solutions, or best partial ones).

        A sample's score is its node's value unless `scores` gives another (MCTS: the backed-up mean).
        """
        samples = [self._sample(n, (scores or {}).get(n)) for n in finals]
        compute = self.proposer.policy.compute() + self.scorer.prm.compute()
        return finish(strategy, self.problem, samples, compute, self.started, self.config.select, self.tree, trace)

    def _sample(self, node: int, score: float | None = None) -> Sample:
        data, text = self.tree.node(node), self.tree.prefix(node).strip()
        return Sample(
            text=text,
            answer=data["answer"] if data["terminal"] else self.style.extract(text),
            finish_reason="stop" if data["terminal"] else "length",
            generated_tokens=self.tree.path_tokens(node),
            score=self.value(node) if score is None else score,
        )
