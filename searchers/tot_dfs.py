"""Tree-of-thought, depth first, with pruning and backtracking.

From a state, propose `children` next steps in one call and value them with the PRM;
children below `threshold` are pruned, the others are explored best first. When a
state's children are all pruned (or it reaches the step cap unfinished), the search
backtracks to the next best unexplored state above it. It stops once
`max_solutions` finished solutions at or above the threshold are found, when
`max_expansions` states were expanded, or when the budget is spent.
Leaves out: revisiting pruned states with a lowered threshold.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from reason.generator import Generator
from reason.searchers.stepwise import SearchRun, StepSearchConfig
from reason.tree import ROOT
from reason.types import Problem, SearchResult


class TreeOfThoughtDFS(StepSearchConfig):
    """Args: children per state, threshold (prune below), max_solutions, max_expansions, plus StepSearchConfig's."""

    strategy: ClassVar[str] = "tot-dfs"

    children: int = Field(default=2, ge=1)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """States valued below this are pruned; finished solutions below it are not accepted."""
    max_solutions: int = Field(default=1, ge=1)
    max_expansions: int = Field(default=16, ge=1)

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        run = self.start(problem, generator)
        stack, expansions = [ROOT], 0
        accepted: list[int] = []
        while stack and len(accepted) < self.max_solutions and expansions < self.max_expansions:
            node = stack.pop()
            if node != ROOT and run.tree.node(node).terminal:
                accepted.append(node)  # only states at or above the threshold reach the stack
                continue
            children = run.expand([node], self.children)
            if not children:
                break  # budget spent
            expansions += 1
            run.score(children)
            stack += self._keep(run, children)[::-1]  # best child on top: explored first
        finals = accepted or self._fallback(run)
        return run.result(self.strategy, finals, {"expansions": expansions, "accepted": len(accepted)})

    def _keep(self, run: SearchRun, children: list[int]) -> list[int]:
        """Children at or above the threshold, best first; the rest are pruned."""
        kept = [c for c in run.best_first(children) if run.value(c) >= self.threshold]
        for child in children:
            if child not in kept:
                run.tree.update(child, pruned=True)
        return kept

    def _fallback(self, run: SearchRun) -> list[int]:
        """No accepted solution: every finished one seen, else the deepest best partial one."""
        finished = run.tree.nodes_where("terminal")
        if finished:
            return finished
        leaves = run.tree.leaves()
        return [max(leaves, key=lambda n: (run.tree.node(n).depth, run.value(n)))] if leaves else []
