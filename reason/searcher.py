"""The `Searcher` seam: a strategy that spends model calls to answer a problem.

A searcher is configured once (its fields are its parameters, validated) and then
`search(problem, generator)` returns a `SearchResult` with the answer, every
candidate with its support, the samples, and the compute spent.
Leaves out: budgets and search trees, which the tree searchers add.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from reason.generator import Generator
from reason.types import Frozen, Problem, SearchResult


@runtime_checkable
class Searcher(Protocol):
    strategy: ClassVar[str]

    def search(self, problem: Problem, generator: Generator) -> SearchResult: ...


class SearcherConfig(Frozen):
    """Base for searchers whose parameters are their fields (frozen, unknown names rejected)."""
