"""Particle filtering: weights from PRM values, resampling toward strong partial solutions without
collapsing, ESS-triggered resampling, systematic resampling's exact counts, the budget."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from reason.searchers.particle_filter import ParticleFilter, effective_sample_size, systematic
from reason.testing import FakeGenerator, FakePRM, by_prefix
from reason.types import Problem

Q = Problem(question="Pick a path.")
STEPS = {"": ["good step", "bad step"], "good step": ["The answer is 1."], "bad step": ["The answer is 2."]}
PRM = {"good step": 0.9, "bad step": 0.1, "The answer is 1.": 0.9, "The answer is 2.": 0.1}


def test_resampling_moves_particles_to_the_paths_the_prm_likes():
    prm = FakePRM(PRM, default=0.5)
    result = ParticleFilter(n=8, prm=prm, weight_temperature=0.05, seed=1, step_score="last").search(
        Q, FakeGenerator(by_prefix(STEPS)))
    answers = Counter(s.answer for s in result.samples)
    assert result.answer == "1" and answers["1"] >= 7  # the root handed out 4 good and 4 bad first steps
    # resampled after each of the two steps (the second time, finished particles among themselves)
    assert result.trace["resamples"] == 2 and result.trace["finished"] == 8


def test_a_soft_weighting_keeps_weak_particles_alive():
    result = ParticleFilter(n=8, prm=FakePRM(PRM), weight_temperature=10.0, seed=1, step_score="last").search(
        Q, FakeGenerator(by_prefix(STEPS)))
    assert {s.answer for s in result.samples} == {"1", "2"}  # not collapsed onto one path


def test_ess_threshold_resamples_only_when_weights_degenerate():
    even = ParticleFilter(n=6, prm=FakePRM(default=0.5), ess_threshold=0.5, seed=0).search(
        Q, FakeGenerator(by_prefix(STEPS)))
    assert even.trace["resamples"] == 0 and even.trace["ess"] == [6.0, 6.0]
    skewed = ParticleFilter(n=6, prm=FakePRM(PRM), weight_temperature=0.05, ess_threshold=0.9, seed=0,
                            step_score="last").search(Q, FakeGenerator(by_prefix(STEPS)))
    assert skewed.trace["resamples"] == 1 and skewed.trace["ess"][0] < 0.9 * 6


def test_systematic_resampling_gives_floor_or_ceiling_copies():
    for seed in range(20):
        picked = Counter(systematic(random.Random(seed), [1, 2, 3, 4], [0.5, 0.25, 0.125, 0.125]))
        assert picked[1] == 2 and picked[2] == 1 and picked[3] + picked[4] == 1


def test_effective_sample_size():
    assert effective_sample_size([0.25] * 4) == pytest.approx(4)
    assert effective_sample_size([1.0, 0.0, 0.0]) == pytest.approx(1)


def test_same_seed_same_search_and_the_budget_holds():
    def run(seed):
        gen = FakeGenerator(by_prefix(STEPS))
        return ParticleFilter(n=4, prm=FakePRM(PRM), seed=seed).search(Q, gen)

    assert [s.text for s in run(3).samples] == [s.text for s in run(3).samples]
    gen = FakeGenerator(by_prefix({"": ["a long first step that never ends"]}, default="more and more"))
    result = ParticleFilter(n=4, prm=FakePRM(), step_tokens=8, max_steps=50, budget={"tokens": 40}).search(Q, gen)
    assert result.compute.generated_tokens <= 40


def test_registered_by_name():
    from reason.api import make_searcher

    assert isinstance(make_searcher("particle-filter", n=2), ParticleFilter)


def test_weights_are_its_hubs_softmax_over_the_logits_of_the_prm_scores():
    """its_hub (Red-Hat-AI-Innovation-Team/its_hub, algorithms/particle_gibbs.py, the paper authors' library):
    log-weight = inv_sigmoid(score), clipped to [1e-7, 1 - 1e-7]; probabilities = softmax(log-weights)."""
    scores = {"a": 0.9, "b": 0.1, "c": 0.5, "d": 1.0, "e": 0.0}
    gen = FakeGenerator(by_prefix({"": list(scores)}))
    searcher = ParticleFilter(n=5, prm=FakePRM(scores), seed=0, step_score="last")
    run = searcher.start(Q, gen)
    nodes = run.expand([0], 5)
    run.score(nodes)
    clipped = [min(max(scores[run.tree.node(n).text], 1e-7), 1 - 1e-7) for n in nodes]
    logits = [math.log(p / (1 - p)) for p in clipped]
    expected = [math.exp(v - max(logits)) for v in logits]
    assert searcher.weights(run, nodes) == pytest.approx([w / sum(expected) for w in expected])
    odds = dict(zip((run.tree.node(n).text for n in nodes), searcher.weights(run, nodes)))
    assert odds["a"] / odds["b"] == pytest.approx(81)  # (0.9 / 0.1) / (0.1 / 0.9)
    soft = searcher.model_copy(update={"weight": "score"}).weights(run, nodes)
    assert soft[0] / soft[1] == pytest.approx(math.exp(0.8))


def test_a_finished_particle_the_prm_likes_takes_the_slots_of_open_ones():
    """As in its_hub, finished particles stay in the population and are resampled with it: a strong finished
    solution is copied into slots, which then cost no more generation."""
    steps = {"": ["The answer is 1.", "weak step"], "weak step": ["The answer is 2."]}
    scores = {"The answer is 1.": 0.99, "weak step": 0.01, "The answer is 2.": 0.5}
    gen = FakeGenerator(by_prefix(steps))
    result = ParticleFilter(n=8, prm=FakePRM(scores), seed=2, step_score="last").search(Q, gen)
    assert Counter(s.answer for s in result.samples) == {"1": 8}  # every slot holds the finished "1"
    assert len(gen.calls) == 1 and result.trace["steps"] == 1  # nothing was left open to extend
