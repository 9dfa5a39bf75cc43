"""PRM-guided beam search: keep the best partial solutions, extend each by several next steps.

The root is expanded into `n` first steps. Then, step by step: finished solutions
leave the beam; of the open ones the best `ceil(slots / width)` by aggregated PRM
value are kept (the rest pruned) and each is extended `width` times — all in one model
call — where `slots` is `n` minus the solutions finished so far. It stops when `n`
solutions are finished, the step cap ends every path, or the budget is spent.
Leaves out: lookahead rollouts and duplicate-beam filtering.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field

from reason.generator import Generator
from reason.searchers.stepwise import SearchRun, StepSearchConfig
from reason.tree import ROOT
from reason.types import Problem, SearchResult


class BeamSearch(StepSearchConfig):
    """Args: n beams (and finished solutions wanted), width expansions per kept beam, plus StepSearchConfig's.

    Example:
        >>> from reason.testing import FakeGenerator, FakePRM
        >>> gen = FakeGenerator(["The answer is 4."], cycle=True)
        >>> BeamSearch(n=2, width=2, prm=FakePRM()).search(Problem(question="2+2?"), gen).answer
        '4'
    """

    strategy: ClassVar[str] = "beam"

    n: int = Field(default=4, ge=1)
    """Beams alive at each step, and finished solutions wanted."""
    width: int = Field(default=2, ge=1)
    """Next steps generated for each kept beam."""

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        run = self.start(problem, generator)
        frontier, per_node, steps = [ROOT], self.n, 0
        completed: list[int] = []
        while frontier and len(completed) < self.n:
            children = run.expand(frontier, per_node)
            if not children:
                break  # budget spent
            steps += 1
            run.score(children)
            completed += [c for c in children if run.tree.node(c).terminal]
            frontier = self._keep(run, [c for c in children if not run.tree.node(c).terminal], len(completed))
            per_node = self.width
        finals = completed or frontier
        return run.result(self.strategy, finals, {"steps": steps, "completed": len(completed)})

    def _keep(self, run: SearchRun, open_nodes: list[int], finished: int) -> list[int]:
        """The best open beams for the slots left; the others are marked pruned."""
        slots = max(0, self.n - finished)
        ranked = run.best_first(open_nodes)
        kept = ranked[: math.ceil(slots / self.width)]
        for node in ranked[len(kept) :]:
            run.tree.update(node, pruned=True)
        return kept
