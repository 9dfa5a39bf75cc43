import json

import networkx as nx
import pytest

from reason.searchers.beam import BeamSearch
from reason.steps import is_final, join_steps, split_steps
from reason.testing import FakeGenerator, FakePRM, by_prefix
from reason.tree import ROOT, Node, SearchTree, graph_from_json, graph_to_json
from reason.types import Problem


def _small_tree() -> tuple[SearchTree, int, int]:
    tree = SearchTree()
    tree.update(ROOT, tokens=10)
    a = tree.add_child(ROOT, text="Half of 2 is 1.", sep="\n\n", tokens=6, score=0.9, value=0.9)
    cut = tree.add_child(a, text="So 2 +", sep="", tokens=3)
    end = tree.add_child(cut, text=" 1 = 3. The answer is 3.", tokens=8, terminal=True, answer="3")
    return tree, a, end


def test_paths_prefixes_and_tokens():
    tree, a, end = _small_tree()
    assert tree.path(end) == [a, a + 1, end]
    assert tree.steps(end) == ["Half of 2 is 1.", "So 2 +", "1 = 3. The answer is 3."]
    # a step cut at its token limit has no separator: the child continues it mid-sentence
    assert tree.prefix(end) == "Half of 2 is 1.\n\nSo 2 + 1 = 3. The answer is 3."
    assert tree.node(end).depth == 3 and tree.parent(a) == ROOT and tree.children(ROOT) == [a]
    assert tree.path_tokens(end) == 17 and tree.total_tokens() == 27
    assert tree.leaves() == [end] and tree.nodes_where("terminal") == [end]


def test_json_round_trip_keeps_structure_and_attributes():
    tree, _, end = _small_tree()
    data = json.loads(json.dumps(tree.to_json()))
    graph = graph_from_json(data)
    assert isinstance(graph, nx.DiGraph)
    assert sorted(graph.edges) == sorted(tree.graph.edges)
    assert dict(graph.nodes(data=True)) == dict(tree.graph.nodes(data=True))
    again = SearchTree.from_json(graph_to_json(graph))
    assert again.prefix(end) == tree.prefix(end)


def test_search_result_carries_its_tree():
    gen = FakeGenerator(by_prefix({"": ["1 + 1 = 2"], "1 + 1 = 2": ["The answer is 2."]}))
    result = BeamSearch(n=2, width=1, prm=FakePRM()).search(Problem(question="1+1?"), gen)
    graph = result.tree
    assert isinstance(graph, nx.DiGraph) and graph.number_of_nodes() == 5  # root, 2 first steps, 2 finals
    finals = [n for n, d in graph.nodes(data=True) if d["terminal"]]
    assert {graph.nodes[n]["answer"] for n in finals} == {"2"}
    assert json.loads(result.model_dump_json())["search_tree"]["edges"]  # serialisable as part of the result
    assert result.tree is result.tree  # built once
    old = json.loads(result.model_dump_json(exclude={"search_tree"}))  # a result stored with the tree in its trace
    old["trace"] = {**old["trace"], "tree": result.search_tree}
    again = type(result).model_validate(old)
    assert again.search_tree == result.search_tree and "tree" not in again.trace


def test_split_steps_caps_and_drops_blank_steps():
    text = "First.\n\n\n\nSecond.\n\nThird.\n\nFourth."
    assert split_steps(text) == ["First.", "Second.", "Third.", "Fourth."]
    assert split_steps(text, max_steps=2) == ["First.", "Second.\n\nThird.\n\nFourth."]
    assert split_steps("a\nb", delimiter="\n") == ["a", "b"]
    assert join_steps(split_steps(text)) == "First.\n\nSecond.\n\nThird.\n\nFourth."
    assert split_steps("  \n\n ") == []


def test_final_step_needs_a_stated_answer():
    assert is_final("So the total is 12. The answer is 12.")
    assert is_final("#### 12") and is_final("\\boxed{12}")
    assert not is_final("3 + 9 = 12")


def test_node_attributes_are_a_typed_record():
    tree, a, end = _small_tree()
    node = tree.node(end)
    assert isinstance(node, Node) and (node.terminal, node.answer, node.tokens) == (True, "3", 8)
    with pytest.raises(TypeError, match="unknown tree node attribute"):
        tree.update(a, termnal=True)  # a typo is refused where it is written
    with pytest.raises(TypeError, match="unknown tree node attribute"):
        tree.add_child(a, txt="x")
    with pytest.raises(AttributeError):
        node.visits = 3  # a snapshot: change the tree with update()
    tree.update(end, visits=2)
    assert tree.node(end).visits == 2 and node.visits == 0
