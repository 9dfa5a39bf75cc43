"""Every new searcher end to end on the bundled model (vLLM, CPU), one GSM8K problem, a small budget each.

The LLM-judge PRM runs on the same model. These prove the wiring (step prompts,
stop strings, batching, logprobs, budgets, compute split, trees), not accuracy: a
135M model is mostly wrong.
"""

import json

import pytest

from reason.budget import Budget
from reason.generator import MeteredGenerator
from reason.prm.llm_judge import LLMJudgePRM
from reason.searchers.adaptive_sc import AdaptiveSelfConsistency
from reason.searchers.beam import BeamSearch
from reason.searchers.best_of_n import BestOfN
from reason.searchers.dvts import DVTS
from reason.searchers.mcts import MCTS
from reason.searchers.refine import VerifierRefine
from reason.searchers.tot_bfs import TreeOfThoughtBFS
from reason.searchers.tot_dfs import TreeOfThoughtDFS
from reason.tree import graph_from_json, graph_to_json
from reason.types import Problem

pytestmark = pytest.mark.model

ROBE = Problem(
    question="A robe takes 2 bolts of blue fiber and half that much white fiber.  How many bolts in total does it take?",
    answer="3",
)
STEP = {"step_tokens": 32, "max_steps": 3, "seed": 0}
TREE_BUDGET = 128


class Recording:
    """Passes calls through to the real generator and keeps what went in and came out."""

    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, []

    def __getattr__(self, item):
        return getattr(self.inner, item)

    def generate(self, prompts, params):
        outputs = self.inner.generate(prompts, params)
        self.calls.append((list(prompts), params, outputs))
        return outputs

    def close(self):
        pass


def _policy_calls(recording):
    return [(p, params, out) for p, params, out in recording.calls if params.max_tokens != 1]


def _check(result, budget_tokens, recording):
    assert result.compute.generated_tokens <= budget_tokens
    assert result.compute.model_calls == len(_policy_calls(recording))
    assert result.samples and result.tree.number_of_nodes() >= 2
    again = graph_from_json(json.loads(json.dumps(graph_to_json(result.tree))))
    assert again.number_of_nodes() == result.tree.number_of_nodes()


CASES = {
    "beam": lambda: BeamSearch(n=2, width=2, budget=Budget(tokens=TREE_BUDGET), **STEP),
    "dvts": lambda: DVTS(n=4, width=2, budget=Budget(tokens=TREE_BUDGET), **STEP),
    "tot-bfs": lambda: TreeOfThoughtBFS(breadth=2, children=2, budget=Budget(tokens=TREE_BUDGET), **STEP),
    "tot-dfs": lambda: TreeOfThoughtDFS(
        children=2, threshold=0.3, max_expansions=2, budget=Budget(tokens=TREE_BUDGET), **STEP
    ),
    "mcts": lambda: MCTS(iterations=2, children=2, budget=Budget(tokens=TREE_BUDGET), **STEP),
}


@pytest.mark.parametrize("name", list(CASES))
def test_tree_searchers_on_the_real_model(name, vllm_generator):
    recording = Recording(vllm_generator)
    result = CASES[name]().search(ROBE, recording)
    _check(result, TREE_BUDGET, recording)
    assert result.compute.prm_calls >= 1 and result.compute.prm_generated_tokens >= 1  # the judge ran on the model
    policy = _policy_calls(recording)
    assert all(params.stop == ("\n\n",) and params.n >= 1 for _, params, _ in policy)
    # children of a frontier come from ONE call, each node's children as n samples of one shared prompt
    assert any(params.n == 2 for _, params, _ in policy)
    steps = [d for n, d in result.tree.nodes(data=True) if n != 0]
    assert all(d["tokens"] <= 32 for d in steps) and result.tree.nodes[0]["tokens"] > 0
    _check_children_reuse_their_parents_tokens(policy, vllm_generator)


def _check_children_reuse_their_parents_tokens(policy, generator):
    """A child's prompt is sent as its parent's own tokens, so every block the parent computed is a cache hit."""
    block = generator._llm.llm_engine.vllm_config.cache_config.block_size
    children = [(p, out[0]) for prompts, _, outputs in policy for p, out in zip(prompts, outputs) if p.continues]
    assert children, "no prompt continued a generated step"
    for prompt, first in children:
        sent, parent = first.prompt_token_ids, prompt.continues
        matched = next((i for i, (a, b) in enumerate(zip(sent, parent)) if a != b), min(len(sent), len(parent)))
        assert matched >= len(parent) - 1  # all the parent's tokens (but a last one a stop string ended inside)
        computed = min(matched, len(parent) - 1)  # the parent's last sampled token was never fed to the model
        assert first.cached_prompt_tokens >= computed // block * block


def test_best_of_n_on_the_real_model(vllm_generator):
    recording = Recording(vllm_generator)
    result = BestOfN(n=2, max_tokens=48, seed=0, budget=Budget(tokens=96)).search(ROBE, recording)
    _check(result, 96, recording)
    assert len(result.samples) == 2 and all(s.score is not None for s in result.samples)
    assert result.compute.prm_calls == 1


def test_adaptive_sc_on_the_real_model(vllm_generator):
    recording = Recording(vllm_generator)
    result = AdaptiveSelfConsistency(n=4, batch=2, max_tokens=48, seed=0, budget=Budget(tokens=192)).search(
        ROBE, recording
    )
    _check(result, 192, recording)
    assert result.trace["stopped"] in ("decided", "confident", "n", "budget")
    assert [params.n for _, params, _ in recording.calls] == [2] * len(recording.calls)


def test_refine_on_the_real_model(vllm_generator):
    def whole_number(problem, answer):
        return answer.replace(",", "").lstrip("-").isdigit()

    recording = Recording(vllm_generator)
    result = VerifierRefine(verifier=whole_number, max_rounds=2, max_tokens=48, budget=Budget(tokens=96)).search(
        ROBE, recording
    )
    _check(result, 96, recording)
    if (
        result.trace["verdicts"][0]["status"] == "fail"
    ):  # then the second prompt carries the first attempt and the verdict
        second = recording.calls[1][0][0]
        assert second.messages[-2].role == "assistant" and "not accepted" in second.messages[-1].content


def test_judge_reads_yes_no_probabilities_from_the_real_model(vllm_generator):
    metered = MeteredGenerator(vllm_generator, role="prm")
    judge = LLMJudgePRM().bind(metered)
    scores = judge.score(
        ROBE,
        [
            ["Blue: 2 bolts. White: half of 2 = 1 bolt.", "Total: 2 + 1 = 3. The answer is 3."],
            ["Blue: 2 bolts. White: 2 * 2 = 4 bolts.", "Total: 2 + 4 = 6. The answer is 6."],
        ],
    )
    flat = [s for per in scores for s in per]
    assert all(0.0 <= s <= 1.0 for s in flat)
    assert any(s != 0.5 for s in flat)  # yes/no were among the top-20 alternatives
    assert metered.compute().prm_calls == 1 and metered.compute().prm_generated_tokens == 4
