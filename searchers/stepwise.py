"""What the tree searchers share: their config, the step proposer, the step scorer, the result.

llm-reasoners' split, kept as immutable as a search allows: `StepProposer` turns
frontier nodes into children — all children of a frontier in ONE model call, each
node's children sharing its prompt (the chat plus the steps so far as the assistant
prefix, with the tokens the model generated for them) so the backend's prefix cache
reuses it; `StepScorer` runs the PRM on new
nodes and aggregates; each algorithm (beam, MCTS, ...) is its own module and only
decides what to expand and what to keep. The `SearchTree` is the one mutable thing.
Leaves out: the algorithms themselves.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator, model_validator

from reason.budget import Budget, BudgetedGenerator, plan_batch
from reason.extract import RULES
from reason.generator import Generator
from reason.registry import named
from reason.reward import STEP_REDUCTIONS, MeteredPRM, StepReduction, build_prm
from reason.searchers.sampling import finish
from reason.searchers.scored import ScoredSearchConfig
from reason.steps import FINAL_RULES, is_final, step_segments
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


class StepSearchConfig(ScoredSearchConfig):
    """Parameters every tree searcher takes (each adds its own shape: beams, iterations, ...)."""

    temperature: float = Field(default=0.8, gt=0.0)
    step_tokens: int = Field(default=128, ge=1)
    """Most tokens per step. (Whole-solution searchers' `max_tokens` caps a whole solution; a tree
    searcher refuses `max_tokens` rather than read a per-solution number as a per-step one.)"""
    max_steps: int = Field(default=8, ge=1)
    """Step cap: a path this deep is finished whether or not it stated an answer."""
    delimiter: str = Field(default="\n\n", min_length=1)
    """Ends a step (sent as the stop string)."""
    final_rules: tuple[str, ...] = FINAL_RULES
    """Extraction rules whose match marks a step as the last one."""
    seed: int | None = None
    budget: Budget = Budget()

    @model_validator(mode="before")
    @classmethod
    def _no_max_tokens(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_tokens" in data:
            raise ValueError("a tree searcher caps tokens per step: use step_tokens (max_tokens is a whole solution's cap)")
        return data

    @field_validator("final_rules")
    @classmethod
    def _check_final_rules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return named(value, RULES, "extraction rule", "rules")

    def start(self, problem: Problem, generator: Generator) -> SearchRun:
        """Set up one search: metered policy and PRM, proposer, scorer, an empty tree."""
        style = task_style(problem.task)
        policy = BudgetedGenerator(generator, self.budget)
        params = SamplingParams(
            temperature=self.temperature, max_tokens=self.step_tokens, stop=(self.delimiter,), seed=self.seed
        )
        proposer = StepProposer(style, style.prompt(problem), policy, params, self.final_rules, self.max_steps)
        scorer = StepScorer(MeteredPRM(build_prm(self.prm), generator), problem, STEP_REDUCTIONS[self.step_score])
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

    def prompt_for(self, tree: SearchTree, node: int) -> ChatPrompt:
        """The prompt a child of `node` continues: the chat, the steps so far, and their tokens
        (`tree.token_ids`, kept by the tree, the search's one mutable object)."""
        return self.prompt.extended(tree.prefix(node), tree.token_ids.get(node, ()))

    def expand(self, tree: SearchTree, nodes: Sequence[int], k: int) -> list[list[int]]:
        """Up to k children for each node, in one call; fewer (or none, for the last nodes) to fit the budget.

        Nodes should come best first: when the budget cannot pay for all, the first ones advance.
        """
        affordable = self.policy.affordable(len(nodes) * k, self.params.max_tokens)
        count, per_node = plan_batch(len(nodes), k, affordable)
        if count == 0:
            return [[] for _ in nodes]
        prompts = [self.prompt_for(tree, n) for n in nodes[:count]]
        outputs = self.policy.generate(prompts, self.params.model_copy(update={"n": per_node}))
        grown = [[self._add(tree, node, c) for c in completions] for node, completions in zip(nodes, outputs)]
        return grown + [[] for _ in nodes[count:]]

    def _add(self, tree: SearchTree, parent: int, completion: Completion) -> int:
        if parent == ROOT:
            tree.update(ROOT, tokens=completion.prompt_tokens)
        cut = completion.finish_reason == "length"  # continue mid-step, no delimiter in between
        ended = completion.stop_reason == EOS  # the model closed its answer: nothing follows this step
        node = self._add_step(tree, parent, completion.text, completion.generated_tokens, cut, ended)
        tree.update(node, cached_tokens=completion.cached_prompt_tokens)
        if completion.prompt_token_ids:
            tree.token_ids[node] = completion.prompt_token_ids + completion.token_ids
        return node

    def _add_step(self, tree: SearchTree, parent: int, text: str, tokens: int, cut: bool, ended: bool) -> int:
        depth = tree.node(parent).depth + 1
        terminal = ended or not text.strip() or is_final(text, self.final_rules) or depth >= self.max_steps
        sep = "" if cut else self.params.stop[0]
        node = tree.add_child(parent, text=text, sep=sep, tokens=tokens, terminal=terminal)
        if terminal:
            tree.update(node, answer=self.style.extract(tree.prefix(node)))
        return node

    def graft(self, tree: SearchTree, parent: int, completion: Completion) -> list[int]:
        """Add a continuation of several steps (a rollout, generated without stop strings) as a chain under `parent`.

        Returns the chain, top first. Its texts and separators rebuild the generated text
        exactly, so children of any node on it reuse the rollout's cached prefix. The
        generated tokens are split over the steps in proportion to their characters (the
        sum is exact). The chain ends at the step that finishes the solution or reaches the
        step cap; text after a finished step is dropped.
        """
        delimiter = self.params.stop[0]
        segments = step_segments(completion.text, delimiter)
        shares = apportion(completion.generated_tokens, [len(s) + len(delimiter) for s in segments])
        room = self.max_steps - tree.node(parent).depth
        if len(segments) > room > 0:  # the step cap: the rest is one last step
            segments = [*segments[: room - 1], delimiter.join(segments[room - 1 :])]
            shares = [*shares[: room - 1], sum(shares[room - 1 :])]
        chain, node = [], parent
        for i, (text, tokens) in enumerate(zip(segments, shares)):
            last = i == len(segments) - 1
            ended = last and completion.finish_reason == "stop"  # no stop strings: only EOS stops it
            cut = last and completion.finish_reason == "length"
            node = self._add_step(tree, node, text, tokens, cut, ended)
            if i == 0:
                tree.update(node, cached_tokens=completion.cached_prompt_tokens)
            if completion.prompt_token_ids:  # every node of the chain shares the rollout's ids
                tree.token_ids[node] = completion.prompt_token_ids + completion.token_ids
            chain.append(node)
            if tree.node(node).terminal:
                break
        return chain


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Split a whole number over weights, rounding at cumulative boundaries so the parts add up exactly.

    Example: apportion(10, [1, 1, 1]) -> [3, 4, 3]
    """
    whole = sum(weights)
    if not whole:
        return [0] * (len(weights) - 1) + [total]
    bounds, running = [0], 0
    for weight in weights:
        running += weight
        bounds.append(round(total * running / whole))
    return [b - a for a, b in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class StepScorer:
    """Values nodes with the PRM: `score` is the node's own step score, `value` the aggregate of its path."""

    prm: MeteredPRM
    problem: Problem
    reduce: StepReduction

    def score(self, tree: SearchTree, nodes: Sequence[int]) -> None:
        """Score the nodes not scored yet, in one PRM call; an empty step inherits its parent's value.

        A node on the path of another one (a rollout's chain) takes its scores from that
        path's: a PRM scores each step from the steps up to it, so one path serves all.
        """
        todo = [n for n in nodes if tree.node(n).value is None]
        written = {n for n in todo if tree.node(n).text.strip()}
        inner = {a for n in written for a in tree.path(n)[:-1] if a in written}
        bottoms = [n for n in todo if n in written and n not in inner]
        for bottom, scores in zip(bottoms, self.prm.score(self.problem, [tree.steps(n) for n in bottoms])):
            for node in (n for n in tree.path(bottom) if n in written):
                count = len(tree.steps(node))
                tree.update(node, score=scores[count - 1], value=self.reduce(scores[:count]))
        for node in sorted((n for n in todo if n not in written), key=lambda n: tree.node(n).depth):
            parent = tree.node(tree.parent(node))  # type: ignore[arg-type]
            tree.update(node, score=parent.score, value=parent.value or 0.0)


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

    def expand_counts(self, wanted: Mapping[int, int]) -> dict[int, list[int]]:
        """Each node's new children, `wanted[node]` of them: one call per distinct count, fewest first; a node
        gets fewer (or none) when the budget cannot pay for all."""
        grown: dict[int, list[int]] = {}
        for count in sorted(set(wanted.values())):
            nodes = [node for node, k in wanted.items() if k == count]
            grown.update(zip(nodes, self.expand_each(nodes, count)))
        return grown

    def score(self, nodes: Sequence[int]) -> None:
        self.scorer.score(self.tree, nodes)

    def value(self, node: int) -> float:
        return self.tree.node(node).value or 0.0

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
            answer=data.answer if data.terminal else self.style.extract(text),
            finish_reason="stop" if data.terminal else "length",
            generated_tokens=self.tree.path_tokens(node),
            score=self.value(node) if score is None else score,
        )
