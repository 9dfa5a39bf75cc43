"""The search tree every searcher returns: a `networkx.DiGraph` of steps, with JSON round-trip.

Node 0 is the root: the prompt (its `tokens` are the prompt's tokens). Every other
node is one generated step, with attributes:

    text      the step as generated (without the delimiter that ended it)
    sep       what follows the step when a child continues it (the delimiter, or ""
              when the step was cut at its token limit and the child continues mid-step)
    depth     steps from the root
    tokens    tokens generated for this step
    score     the PRM's score of this step (None until scored)
    value     the path's aggregated score, or a searcher's own value estimate
    visits, value_sum   MCTS statistics (0 elsewhere)
    terminal  the solution ends here; `answer` holds what was extracted
    pruned    a searcher discarded this node

`SearchTree` is the small mutable helper searchers build a graph with; what leaves a
searcher is the graph in node-link JSON (`SearchResult.trace["tree"]`), turned back
into a DiGraph by `graph_from_json` or `SearchResult.tree`.
Leaves out: drawing; networkx and its exporters do that.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

ROOT = 0

_NODE_DEFAULTS: dict[str, Any] = {
    "text": "",
    "sep": "",
    "depth": 0,
    "tokens": 0,
    "score": None,
    "value": None,
    "visits": 0,
    "value_sum": 0.0,
    "terminal": False,
    "answer": None,
    "pruned": False,
}


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
            graph.add_node(ROOT, **_NODE_DEFAULTS)
        self.graph = graph

    def add_child(self, parent: int, **attrs: Any) -> int:
        node = self.graph.number_of_nodes()
        depth = self.graph.nodes[parent]["depth"] + 1
        self.graph.add_node(node, **{**_NODE_DEFAULTS, "depth": depth, **attrs})
        self.graph.add_edge(parent, node)
        return node

    def node(self, node: int) -> dict[str, Any]:
        """The node's attribute dict (live: writing to it changes the tree)."""
        return self.graph.nodes[node]

    def update(self, node: int, **attrs: Any) -> None:
        self.graph.nodes[node].update(attrs)

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

    def nodes_where(self, key: str) -> list[int]:
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
