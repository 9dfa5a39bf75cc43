"""Monte Carlo tree search over steps: UCT selection, expansion, evaluation, backpropagation.

Each iteration walks down from the root, at each node taking the child with the
highest UCT score `Q + c_uct * sqrt(ln N(parent) / N(child))` (Q: mean backed-up
value, N: visits), until it reaches a node with fewer than `children` children. That
node is expanded by the missing next steps in one model call; each new child is
evaluated — by the PRM value of its path ("prm"), or by rolling the solution out to
the end in one call and scoring the whole of it ("rollout") — and the value is added
to every node on the path (visits + 1, value_sum + value). A rollout stays in the
tree as a chain of steps under its child (as in llm-reasoners' simulate), so later
iterations branch from its steps on the cached prefix instead of throwing it away;
a finished rollout is also a candidate solution. A finished leaf is not expanded;
its own value is backed up again. The answer is chosen among finished solutions by
their mean backed-up value.
With `parallel` > 1, a round selects up to that many leaves before expanding any (virtual loss:
each pick counts as a visit of value 0 along its path until the round's picks are made, so the
next walk prefers other branches; Chaslot et al. 2008, AlphaGo's search) and expands them all in
one model call: the batch a CPU or GPU needs to be fast per token, at the price of selecting with
slightly older statistics. Each expanded leaf counts as one of the `iterations`.
Leaves out: root or tree parallelism across processes (one tree, one search).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field, field_validator

from reason.generator import Generator
from reason.registry import named
from reason.searchers.stepwise import SearchRun, StepSearchConfig
from reason.tree import ROOT
from reason.types import Problem, SamplingParams, SearchResult


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
    parallel: int = Field(default=1, ge=1)
    """Leaves selected (with virtual loss) and expanded together per round; 1 is plain sequential UCT."""

    @field_validator("evaluation")
    @classmethod
    def _check_evaluation(cls, value: str) -> str:
        return named(value, EVALUATIONS, "evaluation")

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        run = self.start(problem, generator)
        iterations = 0
        while iterations < self.iterations:
            done = self._round(run, min(self.parallel, self.iterations - iterations))
            if not done:
                break
            iterations += done
        finals = run.tree.nodes_where("terminal") or run.tree.leaves()
        means = {n: mean_value(run, n) for n in finals}
        return run.result(self.strategy, finals, {"iterations": iterations}, scores=means)

    def _round(self, run: SearchRun, picks: int) -> int:
        """Select up to `picks` leaves, expand the open ones in one call, evaluate, back up.

        Returns how many leaves were used: 0 when the budget cannot pay for any expansion.
        """
        leaves = self._select_many(run, picks)
        finished = [leaf for leaf in leaves if leaf != ROOT and run.tree.node(leaf).terminal]
        for leaf in finished:
            self._backup(run, leaf, run.value(leaf))
        missing = {leaf: self.children - len(run.tree.children(leaf)) for leaf in leaves if leaf not in finished}
        grown = list(run.expand_counts(missing).values())
        for bottom, value in EVALUATIONS[self.evaluation](self, run, [c for group in grown for c in group]):
            self._backup(run, bottom, value)
        return len(finished) + sum(1 for group in grown if group)

    def _select_many(self, run: SearchRun, picks: int) -> list[int]:
        """Up to `picks` distinct leaves, each walk seeing the earlier picks as lost visits (undone after)."""
        leaves: list[int] = []
        for _ in range(picks):
            leaf = self._select(run)
            if leaf in leaves:  # every walk now ends here: nothing else is worth a pick this round
                break
            leaves.append(leaf)
            self._visit(run, leaf, +1)
        for leaf in leaves:
            self._visit(run, leaf, -1)
        return leaves

    @staticmethod
    def _visit(run: SearchRun, leaf: int, step: int) -> None:
        """A virtual loss on the path to `leaf` (step +1), or its removal (-1): a visit that adds no value."""
        for n in [ROOT, *run.tree.path(leaf)]:
            run.tree.update(n, visits=run.tree.node(n).visits + step)

    def _select(self, run: SearchRun) -> int:
        """Walk down by UCT until a finished node or one with fewer than `children` children."""
        node = ROOT
        while len(children := run.tree.children(node)) >= self.children and not run.tree.node(node).terminal:
            parent_visits = run.tree.node(node).visits
            node = max(children, key=lambda c: self.uct(run, c, parent_visits))
        return node

    def uct(self, run: SearchRun, node: int, parent_visits: int) -> float:
        visits = run.tree.node(node).visits
        if visits == 0:
            return math.inf
        return mean_value(run, node) + self.c_uct * math.sqrt(math.log(max(parent_visits, 1)) / visits)

    @staticmethod
    def _backup(run: SearchRun, node: int, value: float) -> None:
        for n in [ROOT, *run.tree.path(node)]:
            data = run.tree.node(n)
            run.tree.update(n, visits=data.visits + 1, value_sum=data.value_sum + value)


def mean_value(run: SearchRun, node: int) -> float:
    data = run.tree.node(node)
    return data.value_sum / data.visits if data.visits else 0.0


def _prm_values(config: MCTS, run: SearchRun, children: list[int]) -> list[tuple[int, float]]:
    """Each child valued by the PRM over its path."""
    run.score(children)
    return [(c, run.value(c)) for c in children]


def _rollout_values(config: MCTS, run: SearchRun, children: list[int]) -> list[tuple[int, float]]:
    """Finish each open child's solution in one call, graft it under the child, value it by the PRM over all of it.

    The value is backed up from the rollout's last step. Children the budget cannot roll
    out, and finished ones, keep their own PRM value.
    """
    open_children = [c for c in children if not run.tree.node(c).terminal]
    policy = run.proposer.policy
    rolled = open_children[: policy.affordable(len(open_children), config.rollout_tokens)]
    bottoms = {c: c for c in children}
    if rolled:
        params = SamplingParams(temperature=config.temperature, max_tokens=config.rollout_tokens, seed=config.seed)
        outputs = policy.generate([run.proposer.prompt_for(run.tree, c) for c in rolled], params)
        for child, out in zip(rolled, outputs):
            bottoms[child] = ([child] + run.proposer.graft(run.tree, child, out[0]))[-1]
    run.score([n for c in children for n in run.tree.path(bottoms[c]) if n not in run.tree.path(c)[:-1]])
    return [(bottoms[c], run.value(bottoms[c])) for c in children]


EVALUATIONS: dict[str, Callable[[MCTS, SearchRun, list[int]], list[tuple[int, float]]]] = {
    "prm": _prm_values,
    "rollout": _rollout_values,
}
"""How MCTS values new nodes, by name: for each, the node to back up from and the value."""
