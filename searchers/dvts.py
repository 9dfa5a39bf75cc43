"""Diverse verifier tree search (DVTS): independent greedy subtrees, so the answers stay diverse.

The `n` samples are split into `n // width` subtrees that never compete with each
other. At each step every open subtree extends its current state `width` times (all
subtrees in one model call) and keeps only its best child by PRM value; a subtree
ends when that child finishes the solution or hits the step cap. The answer is
chosen among the subtrees' solutions (by default a PRM-weighted vote).
Beam search lets the best subtree crowd out the rest; DVTS does not, which helps when
the PRM is over-confident. Leaves out: rebalancing the budget of finished subtrees.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from reason.generator import Generator
from reason.searchers.stepwise import SearchRun, StepSearchConfig
from reason.tree import ROOT
from reason.types import Problem, SearchResult


class DVTS(StepSearchConfig):
    """Args: n (samples per step, over all subtrees), width (children per subtree step), plus StepSearchConfig's."""

    strategy: ClassVar[str] = "dvts"

    n: int = Field(default=4, ge=1)
    width: int = Field(default=2, ge=1)
    select: str = "weighted"

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        run = self.start(problem, generator)
        heads = [ROOT] * max(1, self.n // self.width)
        done: list[int] = []
        steps = 0
        while heads:
            groups = run.expand_each(heads, self.width)
            if not any(groups):
                break  # budget spent
            steps += 1
            run.score([c for group in groups for c in group])
            heads = self._advance(run, heads, groups, done)
        finals = done + [h for h in heads if h != ROOT]
        return run.result(self.strategy, finals, {"subtrees": max(1, self.n // self.width), "steps": steps})

    def _advance(self, run: SearchRun, heads: list[int], groups: list[list[int]], done: list[int]) -> list[int]:
        """Each subtree moves to its best child (finished ones go to `done`); siblings are pruned."""
        moved = []
        for head, children in zip(heads, groups):
            if not children:
                moved.append(head)  # not paid for this step; it waits
                continue
            best, *rest = run.best_first(children)
            for sibling in rest:
                run.tree.update(sibling, pruned=True)
            (done if run.tree.node(best).terminal else moved).append(best)
        return moved
