"""The search tree every searcher returns: a `networkx.DiGraph` of steps, with JSON round-trip.

Node 0 is the root: the prompt (its `tokens` are the prompt's tokens). Every other
node is one generated step, with attributes:

    text      the step as generated (without the delimiter that ended it)
    sep       what follows the step when a child continues it (the delimiter, or ""
              when the step was cut at its token limit and the child continues mid-step)
    depth     steps from the root
    tokens    tokens generated for this step
    cached_tokens   prompt tokens the backend served from its prefix cache for the call that
              generated this step (0 when none or unknown; a rollout's chain: its first node)
    score     the PRM's score of this step (None until scored)
    value     the path's aggregated score, or a searcher's own value estimate
    visits, value_sum   MCTS statistics (0 elsewhere)
    terminal  the solution ends here; `answer` holds what was extracted
    pruned    a searcher discarded this node
    run       in a tree grafted from several runs (best-of-N over beam), which run it came from
    verdict, detail   a verifier's status and message on this attempt (refinement)

`Node` is that record, typed: `SearchTree.node(n)` returns one (a frozen snapshot, read by
attribute), and `add_child`/`update` take only its field names, so a misspelt attribute is
an error where it is written, not a `KeyError` on some later path. The graph itself keeps
plain dicts, for networkx and for JSON. `SearchTree` is the small mutable helper searchers
build a graph with; what leaves a searcher is the graph in node-link JSON
(`SearchResult.search_tree`), turned back into a DiGraph once by `SearchResult.tree`.
Leaves out: drawing; `reason.page` draws a tree as an HTML page, networkx's exporters do the rest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, TypedDict, Unpack

import networkx as nx

ROOT = 0


@dataclass(frozen=True, slots=True)
class Node:
    """One node's attributes (see the module docstring)."""

    text: str = ""
    sep: str = ""
    depth: int = 0
    tokens: int = 0
    cached_tokens: int = 0
    score: float | None = None
    value: float | None = None
    visits: int = 0
    value_sum: float = 0.0
    terminal: bool = False
    answer: str | None = None
    pruned: bool = False
    run: int | None = None
    verdict: str | None = None
    detail: str | None = None


class NodeUpdate(TypedDict, total=False):
    """The keyword arguments `add_child` and `update` take: `Node`'s fields."""

    text: str
    sep: str
    depth: int
    tokens: int
    cached_tokens: int
    score: float | None
    value: float | None
    visits: int
    value_sum: float
    terminal: bool
    answer: str | None
    pruned: bool
    run: int | None
    verdict: str | None
    detail: str | None


FIELDS = frozenset(f.name for f in fields(Node))
NODE_DEFAULTS: dict[str, Any] = asdict(Node())


def _checked(attrs: dict[str, Any]) -> dict[str, Any]:
    unknown = set(attrs) - FIELDS
    if unknown:
        raise TypeError(f"unknown tree node attribute(s) {sorted(unknown)}; a node has {sorted(FIELDS)}")
    return attrs


class SearchTree:
    """Builds a search tree over a DiGraph; node ids are ints in creation order.

    Example:
        >>> tree = SearchTree()
        >>> a = tree.add_child(ROOT, text="2 + 2 = 4", sep="\\n\\n", tokens=5)
        >>> b = tree.add_child(a, text="The answer is 4.", tokens=5, terminal=True)
        >>> tree.steps(b), tree.prefix(b)
        (['2 + 2 = 4', 'The answer is 4.'], '2 + 2 = 4\\n\\nThe answer is 4.')
    """

    def __init__(self, graph: nx.DiGraph | None = None) -> None:
        if graph is None:
            graph = nx.DiGraph()
            graph.add_node(ROOT, **NODE_DEFAULTS)
        self.graph = graph
        self.token_ids: dict[int, tuple[int, ...]] = {}
        """Per node, the model's tokens up to the node's end: its prompt's ids plus the ids it
        generated (a rollout's chain: the whole rollout's, of which the backend keeps the part
        spelling the node's prefix). Empty for a backend that does not report prompt ids. Not
        part of the JSON form: it serves the prefix cache during the search."""

    def add_child(self, parent: int, **attrs: Unpack[NodeUpdate]) -> int:
        node = self.graph.number_of_nodes()
        depth = self.graph.nodes[parent]["depth"] + 1
        self.graph.add_node(node, **{**NODE_DEFAULTS, "depth": depth, **_checked(dict(attrs))})
        self.graph.add_edge(parent, node)
        return node

    def node(self, node: int) -> Node:
        """The node's attributes, as a snapshot (change them with `update`)."""
        data = self.graph.nodes[node]
        return Node(**{k: v for k, v in data.items() if k in FIELDS})

    def update(self, node: int, **attrs: Unpack[NodeUpdate]) -> None:
        self.graph.nodes[node].update(_checked(dict(attrs)))

    def parent(self, node: int) -> int | None:
        parents = list(self.graph.predecessors(node))
        return parents[0] if parents else None

    def children(self, node: int) -> list[int]:
        return sorted(self.graph.successors(node))

    def path(self, node: int) -> list[int]:
        """Nodes from the root's first child down to `node` (the root itself left out)."""
        nodes = []
        while node != ROOT:
            nodes.append(node)
            node = self.parent(node)  # type: ignore[assignment]
        return nodes[::-1]

    def steps(self, node: int) -> list[str]:
        """The non-empty step texts on the path to `node`, stripped (what a PRM scores)."""
        texts = (self.graph.nodes[n]["text"].strip() for n in self.path(node))
        return [t for t in texts if t]

    def prefix(self, node: int) -> str:
        """The text a child of `node` continues: every step on the path with its separator."""
        return "".join(self.graph.nodes[n]["text"] + self.graph.nodes[n]["sep"] for n in self.path(node))

    def path_tokens(self, node: int) -> int:
        return sum(self.graph.nodes[n]["tokens"] for n in self.path(node))

    def leaves(self) -> list[int]:
        return [n for n in sorted(self.graph.nodes) if n != ROOT and self.graph.out_degree(n) == 0]

    def nodes_where(self, key: Literal["terminal", "pruned"]) -> list[int]:
        """Nodes (root excluded) whose attribute `key` is truthy, in creation order."""
        return [n for n in sorted(self.graph.nodes) if n != ROOT and self.graph.nodes[n][key]]

    def total_tokens(self) -> int:
        """Every token the tree holds: the prompt plus all generated steps."""
        return sum(data["tokens"] for _, data in self.graph.nodes(data=True))

    def to_json(self) -> dict[str, Any]:
        return graph_to_json(self.graph)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchTree:
        return cls(graph_from_json(data))


def graph_to_json(graph: nx.DiGraph) -> dict[str, Any]:
    """Node-link form: plain dicts and lists, ready for `json.dumps`."""
    return nx.node_link_data(graph, edges="edges")


def graph_from_json(data: dict[str, Any]) -> nx.DiGraph:
    return nx.node_link_graph(data, directed=True, edges="edges")
