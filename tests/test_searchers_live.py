"""Particle filtering, DeepConf (offline, online, consensus) and parallel MCTS on the bundled model: in process
through vLLM, and behind a real `vllm serve` through the HTTP backend. What holds whatever the weak model
writes: the search runs to its end in budget, the ledger adds up, the trace says what happened."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reason.backends.http_backend import HTTPGenerator
from reason.generator import Generator
from reason.searchers.deepconf import DeepConf
from reason.searchers.mcts import MCTS
from reason.searchers.particle_filter import ParticleFilter
from reason.types import Problem

Q = Problem(question="Tom has 3 apples and buys 4 more. How many apples does he have?", answer="7")
ARITHMETIC = {"name": "verifier", "params": {"check": "step",
                                             "verifier": {"name": "code", "params": {"checks": ["arithmetic"]}}}}

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def served(bundled_model_path) -> Iterator[HTTPGenerator]:
    pytest.importorskip("vllm")
    from servers import vllm_server  # tests/ is on sys.path under pytest

    with vllm_server(bundled_model_path, "--seed", "0") as running:
        generator = HTTPGenerator(base_url=running.base_url)
        yield generator
        generator.close()


@pytest.fixture(params=["in-process", "vllm-serve"])
def model(request) -> Generator:
    return request.getfixturevalue("vllm_generator" if request.param == "in-process" else "served")


def test_particle_filter(model):
    result = ParticleFilter(n=4, prm=ARITHMETIC, step_tokens=48, max_steps=4, seed=0,
                            budget={"tokens": 600}).search(Q, model)
    assert result.compute.generated_tokens <= 600 and result.trace["steps"] >= 1
    assert len(result.trace["ess"]) == result.trace["steps"] and len(result.samples) >= 1
    assert result.compute.prm_generated_tokens == 0  # the arithmetic check costs no model tokens


def test_deepconf_offline_online_and_consensus(model):
    offline = DeepConf(n=4, keep=0.5, window=8, max_tokens=48, seed=0).search(Q, model)
    assert offline.trace["kept"] + offline.trace["dropped"] == 4 and all(s.score is not None for s in offline.samples)
    online = DeepConf(n=6, keep=0.5, window=8, max_tokens=48, mode="online", warmup=2, chunk_tokens=16,
                      consensus=0.95, seed=0).search(Q, model)
    trace = online.trace
    assert trace["warmup"] == 2 and trace["voting"] == len(online.samples) >= 1
    assert trace["early_stopped_tokens"] + trace["consensus_stopped_tokens"] <= online.compute.generated_tokens


def test_parallel_mcts(model):
    result = MCTS(iterations=6, children=2, parallel=3, prm=ARITHMETIC, step_tokens=48, max_steps=4, seed=0,
                  budget={"tokens": 800}).search(Q, model)
    assert result.compute.generated_tokens <= 800 and 1 <= result.trace["iterations"] <= 6
    children = [result.tree.nodes[c]["visits"] for c in result.tree.successors(0)]
    assert result.tree.nodes[0]["visits"] == sum(children) >= result.trace["iterations"]  # every value backed up
