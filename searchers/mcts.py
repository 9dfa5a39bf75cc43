"""Monte Carlo tree search over steps: UCT selection, expansion, evaluation, backpropagation.

Each iteration walks from the root to a leaf, at each node taking the child with the
highest UCT score `Q + c_uct * sqrt(ln N(parent) / N(child))` (Q: mean backed-up
value, N: visits). An open leaf is expanded into `children` next steps in one model
call; each child is evaluated — by the PRM value of its path ("prm"), or by rolling
the solution out to the end and scoring the whole of it ("rollout") — and that value
is added to the child and every node above it (visits + 1, value_sum + value). A
finished leaf is not expanded; its own value is backed up again. The answer is
chosen among finished solutions by their mean backed-up value.
Leaves out: virtual loss / parallel leaf selection (one leaf per iteration).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field, field_validator

from reason.generator import Generator
from reason.steps import split_steps
from reason.tree import ROOT
from reason.types import Problem, SamplingParams, SearchResult
from searchers.stepwise import SearchRun, StepSearchConfig


class MCTS(StepSearchConfig):
    """Args: iterations, children per expansion, c_uct, evaluation ("prm" or "rollout"), plus StepSearchConfig's."""

    strategy: ClassVar[str] = "mcts"

    iterations: int = Field(default=8, ge=1)
    children: int = Field(default=2, ge=1)
    c_uct: float = Field(default=1.0, ge=0.0)
    evaluation: str = "prm"
    """How a new node is valued: a name in EVALUATIONS."""
    rollout_tokens: int = Field(default=256, ge=1)
    """Most tokens of a rollout (evaluation="rollout")."""

    @field_validator("evaluation")
    @classmethod
    def _check_evaluation(cls, value: str) -> str:
        if value not in EVALUATIONS:
            raise ValueError(f"unknown evaluation {value!r}; evaluations: {', '.join(EVALUATIONS)}")
        return value

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        run = self.start(problem, generator)
        iterations = 0
        while iterations < self.iterations and self._iterate(run):
            iterations += 1
        finals = run.tree.nodes_where("terminal") or run.tree.leaves()
        means = {n: mean_value(run, n) for n in finals}
        return run.result(self.strategy, finals, {"iterations": iterations}, scores=means)

    def _iterate(self, run: SearchRun) -> bool:
        """One select-expand-evaluate-backup round; False when the budget cannot pay for it."""
        leaf = self._select(run)
        if leaf != ROOT and run.tree.node(leaf)["terminal"]:
            self._backup(run, leaf, run.value(leaf))
            return True
        children = run.expand([leaf], self.children)
        if not children:
            return False
        for child, value in zip(children, EVALUATIONS[self.evaluation](self, run, children)):
            self._backup(run, child, value)
        return True

    def _select(self, run: SearchRun) -> int:
        """Walk down by UCT until a node without children."""
        node = ROOT
        while children := run.tree.children(node):
            parent_visits = run.tree.node(node)["visits"]
            node = max(children, key=lambda c: self.uct(run, c, parent_visits))
        return node

    def uct(self, run: SearchRun, node: int, parent_visits: int) -> float:
        visits = run.tree.node(node)["visits"]
        if visits == 0:
            return math.inf
        return mean_value(run, node) + self.c_uct * math.sqrt(math.log(max(parent_visits, 1)) / visits)

    @staticmethod
    def _backup(run: SearchRun, node: int, value: float) -> None:
        for n in [ROOT, *run.tree.path(node)]:
            data = run.tree.node(n)
            run.tree.update(n, visits=data["visits"] + 1, value_sum=data["value_sum"] + value)


def mean_value(run: SearchRun, node: int) -> float:
    data = run.tree.node(node)
    return data["value_sum"] / data["visits"] if data["visits"] else 0.0


def _prm_values(config: MCTS, run: SearchRun, children: list[int]) -> list[float]:
    run.score(children)
    return [run.value(c) for c in children]


def _rollout_values(config: MCTS, run: SearchRun, children: list[int]) -> list[float]:
    """Finish each open child's solution in one call and value it by the PRM over the whole of it.

    Children the budget cannot roll out, and finished ones, keep their own PRM value.
    """
    run.score(children)
    open_children = [c for c in children if not run.tree.node(c)["terminal"]]
    policy = run.proposer.policy
    count = policy.affordable(len(open_children), config.rollout_tokens)
    rolled = open_children[:count]
    if not rolled:
        return [run.value(c) for c in children]
    params = SamplingParams(temperature=config.temperature, max_tokens=config.rollout_tokens, seed=config.seed)
    outputs = policy.generate([run.proposer.prompt.extended(run.tree.prefix(c)) for c in rolled], params)
    steps = [run.tree.steps(c) + split_steps(out[0].text, config.delimiter) for c, out in zip(rolled, outputs)]
    per_step = run.scorer.prm.score(run.problem, steps)
    for child, out, scores in zip(rolled, outputs, per_step):
        run.tree.update(child, rollout=out[0].text, rollout_value=run.scorer.aggregate(scores))
    return [run.tree.node(c).get("rollout_value", run.value(c)) for c in children]


EVALUATIONS: dict[str, Callable[[MCTS, SearchRun, list[int]], list[float]]] = {
    "prm": _prm_values,
    "rollout": _rollout_values,
}
"""How MCTS values a new node, by name."""
