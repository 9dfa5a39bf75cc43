"""Tree-of-thought, breadth first: keep the `breadth` best states per depth, expand each `children` times.

At each depth every open state of the frontier proposes `children` next steps (one
model call for the whole frontier); the new states and the frontier's finished ones
compete on value, and the best `breadth` form the next frontier. The value is the
PRM's aggregate of the path — the `llm-judge` PRM on the policy model is ToT's
"the model evaluates its own states". It ends when the frontier is all finished, at
the step cap, or when the budget is spent.
Leaves out: ToT's vote-based state evaluation (a value per state is used instead).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from reason.generator import Generator
from reason.searchers.stepwise import SearchRun, StepSearchConfig
from reason.tree import ROOT
from reason.types import Problem, SearchResult


class TreeOfThoughtBFS(StepSearchConfig):
    """Args: breadth (states kept per depth), children (proposals per state), plus StepSearchConfig's."""

    strategy: ClassVar[str] = "tot-bfs"

    breadth: int = Field(default=2, ge=1)
    """States kept at each depth."""
    children: int = Field(default=3, ge=1)
    """Next steps proposed for each open state."""

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        run = self.start(problem, generator)
        frontier, depth = [ROOT], 0
        while True:
            open_nodes = [n for n in frontier if n == ROOT or not run.tree.node(n).terminal]
            if not open_nodes:
                break
            new = run.expand(open_nodes, self.children)
            if not new:
                break  # budget spent
            depth += 1
            run.score(new)
            frontier = self._select(run, [n for n in frontier if n not in open_nodes] + new)
        finished = [n for n in frontier if run.tree.node(n).terminal]
        return run.result(self.strategy, finished or frontier, {"depth": depth})

    def _select(self, run: SearchRun, pool: list[int]) -> list[int]:
        ranked = run.best_first(pool)
        for node in ranked[self.breadth :]:
            run.tree.update(node, pruned=True)
        return ranked[: self.breadth]
