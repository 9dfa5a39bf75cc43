"""Searchers in the simulated environment (reason.sim) against closed forms and the papers' qualitative results.

Every run is deterministic (seeded), so nothing here is flaky; the tolerances say how far a figure may be from
its closed form given the number of simulated problems: z standard errors of a mean of independent Bernoulli
outcomes, sqrt(sum p_i (1 - p_i)) / N, with p_i the closed-form chance for problem i (or 1/2, the worst case,
where there is no closed form).
"""

from __future__ import annotations

import math
import statistics

import pytest

from reason.registry import registry
from reason.searchers.adaptive_sc import beta_tail_above_half
from reason.sim import SimConfig, SimGenerator, SimPRM, SimWorld
from reason.types import SearchResult

Z = 4.0
"""Standard errors allowed between a simulated figure and its closed form."""

CONFIG = SimConfig(seed=1)
WORLD = SimWorld(CONFIG)


def run(strategy: str, count: int, config: SimConfig = CONFIG, **params) -> list[SearchResult]:
    generator, searcher = SimGenerator(config), registry.build("searcher", strategy, **params)
    return [searcher.search(p, generator) for p in SimWorld(config).problems(count)]


def accuracy(results: list[SearchResult]) -> float:
    return sum(r.answer == r.problem.answer for r in results) / len(results)


def tokens(results: list[SearchResult]) -> float:
    return statistics.mean(r.compute.generated_tokens for r in results)


def worst_se(count: int) -> float:
    return 0.5 / math.sqrt(count)


def test_the_simulator_is_deterministic_under_a_seed():
    first = [r.answer for r in run("self-consistency", 50, n=4, max_tokens=256)]
    assert first == [r.answer for r in run("self-consistency", 50, n=4, max_tokens=256)]
    other = SimConfig(seed=2)
    assert first != [r.answer for r in run("self-consistency", 50, other, n=4, max_tokens=256)]



def test_particle_filtering_resamples_the_same_way_twice_without_a_seed():
    """Its resampling generator comes from the seed and the question, never the OS: a second process, or a replay
    from the generation cache, resamples as the first did (seeded from the OS before, the two runs differed)."""
    def traces():
        return [(r.answer, r.trace["ess"]) for r in run("particle-filter", 40, n=8, prm=SimPRM(auc=0.65),
                                                         step_tokens=64, max_steps=8)]

    assert traces() == traces()

def test_one_sample_is_right_with_the_closed_form_chance():
    count = 1500
    expected = [WORLD.solved(i) for i in range(count)]
    se = math.sqrt(sum(q * (1 - q) for q in expected)) / count
    assert abs(accuracy(run("cot", count, max_tokens=256)) - statistics.mean(expected)) <= Z * se


def test_self_consistency_matches_the_multinomial_majority_formula():
    count, n = 1500, 5
    bounds = [WORLD.majority_accuracy(i, n) for i in range(count)]
    strict, weak = statistics.mean(b[0] for b in bounds), statistics.mean(b[1] for b in bounds)
    se = math.sqrt(sum(b[1] * (1 - b[1]) for b in bounds)) / count
    measured = accuracy(run("self-consistency", count, n=n, max_tokens=256))
    assert strict - Z * se <= measured <= weak + Z * se, (strict, measured, weak)
    assert weak - strict > 0.05  # ties matter here: wrong answers collide (Zipf), so the bounds are not one number


def test_best_of_n_with_a_perfect_verifier_is_pass_at_n():
    count, n = 800, 4
    results = run("best-of-n", count, n=n, prm=SimPRM(auc=1.0), max_tokens=256, select="best")
    solved_by_some_sample = [any(s.answer == r.problem.answer for s in r.samples) for r in results]
    assert [r.answer == r.problem.answer for r in results] == solved_by_some_sample  # exactly pass@n, problem by problem
    expected = [WORLD.pass_at(i, n) for i in range(count)]
    se = math.sqrt(sum(p * (1 - p) for p in expected)) / count
    assert abs(accuracy(results) - statistics.mean(expected)) <= Z * se


def test_beam_search_beats_best_of_n_at_a_low_budget_with_a_useful_prm():
    """Snell et al. 2024: with a good PRM, beam search spends a small budget better than best-of-N."""
    count, prm = 1000, SimPRM(auc=0.9)
    beam = run("beam", count, n=4, width=2, prm=prm, step_tokens=64, max_steps=8)
    best = run("best-of-n", count, n=4, prm=prm, max_tokens=256)
    assert tokens(beam) == pytest.approx(tokens(best), rel=0.05)  # the same generated tokens
    assert accuracy(beam) - accuracy(best) > Z * math.sqrt(2) * worst_se(count), (accuracy(beam), accuracy(best))


def test_particle_filtering_beats_beam_search_at_both_prm_qualities_with_the_authors_weights():
    """Puri et al. 2025: resampling by weight scales better than keeping the top beams. With the authors' weights
    (softmax of the PRM logits, its_hub) and 8 particles against 8 beams of width 2, particle filtering is ahead
    with a good PRM (AUC 0.95) and with a noisy one (0.65). (It does not also degrade less: both lose about a
    quarter; with 4 particles it is level with beam search. The softer weight="score" trails both.)"""
    count = 1500
    for auc in (0.95, 0.65):
        prm = SimPRM(auc=auc)
        beam = accuracy(run("beam", count, n=8, width=2, prm=prm, step_tokens=64, max_steps=8))
        particles = accuracy(run("particle-filter", count, n=8, prm=prm, step_tokens=64, max_steps=8))
        assert particles - beam > 2 * math.sqrt(2) * worst_se(count), (auc, beam, particles)  # 2 SE of a difference


def test_parallel_mcts_keeps_sequential_mcts_accuracy_in_fewer_model_calls():
    """Virtual loss spreads a round's picks without spoiling the search (Chaslot et al. 2008): the same accuracy
    at the same tokens, in fewer, larger calls (what makes a tree search fast per token on a batched engine)."""
    count, prm = 600, SimPRM(auc=0.9)
    sequential = run("mcts", count, iterations=8, prm=prm, step_tokens=64, max_steps=8)
    parallel = run("mcts", count, iterations=8, parallel=4, prm=prm, step_tokens=64, max_steps=8)
    assert tokens(parallel) == pytest.approx(tokens(sequential), rel=0.05)
    assert abs(accuracy(parallel) - accuracy(sequential)) <= Z * math.sqrt(2) * worst_se(count)
    calls = {name: statistics.mean(r.compute.model_calls for r in results)
             for name, results in (("sequential", sequential), ("parallel", parallel))}
    assert calls["parallel"] < 0.6 * calls["sequential"], calls


@pytest.mark.parametrize("signal", [0.0, 1.0])
def test_deepconf_gains_exactly_when_confidence_carries_signal(signal):
    count = 1000
    config = SimConfig(seed=1, signal=signal)
    voted = accuracy(run("self-consistency", count, config, n=8, max_tokens=256))
    filtered = accuracy(run("deepconf", count, config, n=8, keep=0.5, window=16, max_tokens=256))
    margin = Z * math.sqrt(2) * worst_se(count)
    if signal:
        assert filtered - voted > margin, (voted, filtered)
    else:
        assert abs(filtered - voted) <= margin, (voted, filtered)


def test_deepconf_online_saves_tokens_at_no_loss_when_confidence_carries_signal_and_gains_nothing_without():
    """Fu et al. 2025: stopping unsure traces early saves tokens at equal accuracy. Without signal in the confidence
    it still stops traces (at random: the threshold is a warm-up quantile), so it saves tokens by dropping votes and
    is no better than majority voting."""
    count = 600
    params = {"n": 8, "keep": 0.5, "window": 16, "max_tokens": 256}
    informative = SimConfig(seed=1, signal=1.0)
    offline = run("deepconf", count, informative, **params)
    online = run("deepconf", count, informative, mode="online", warmup=4, chunk_tokens=16, **params)
    assert tokens(online) <= 0.95 * tokens(offline), (tokens(online), tokens(offline))
    assert accuracy(online) >= accuracy(offline) - Z * math.sqrt(2) * worst_se(count)
    assert sum(r.trace["early_stopped"] for r in online) > count  # more than one trace per problem on average
    blind = SimConfig(seed=1, signal=0.0)
    voted = accuracy(run("self-consistency", count, blind, n=8, max_tokens=256))
    guessed = accuracy(run("deepconf", count, blind, mode="online", warmup=4, chunk_tokens=16, **params))
    assert guessed <= voted + Z * math.sqrt(2) * worst_se(count), (voted, guessed)


def test_deepconf_consensus_stop_saves_tokens_at_equal_accuracy():
    """Fu et al. 2025, Algorithm 2: once one answer holds tau of the confidence-weighted votes, the traces still
    growing stop. (Traces here grow in lockstep, so it mostly fires on a settled warm-up.)"""
    count, config = 300, SimConfig(seed=1, signal=1.0)
    params = {"n": 16, "keep": 0.9, "window": 16, "max_tokens": 256, "mode": "online", "warmup": 4, "chunk_tokens": 16}
    plain = run("deepconf", count, config, **params)
    settled = run("deepconf", count, config, consensus=0.95, **params)
    assert tokens(settled) <= 0.85 * tokens(plain), (tokens(settled), tokens(plain))
    assert accuracy(plain) - accuracy(settled) <= Z * math.sqrt(2) * worst_se(count), (accuracy(plain), accuracy(settled))
    assert sum(r.trace["consensus_stopped"] > 0 for r in settled) > count / 10
    assert all(r.trace["consensus_stopped"] == 0 for r in plain)


def test_adaptive_self_consistency_stops_exactly_when_the_margin_is_decisive():
    n, batch, confidence = 12, 2, 0.95
    for result in run("adaptive-sc", 300, n=n, batch=batch, confidence=confidence, max_tokens=256):
        answers = [s.answer for s in result.samples]
        stops = [k for k in range(batch, n + 1, batch) if _decisive(answers[:k], n, confidence)]
        drawn = len(answers)
        assert drawn == (stops[0] if stops else n), (answers, stops)


def _decisive(answers: list[str | None], n: int, confidence: float) -> bool:
    counts = sorted((answers.count(a) for a in set(answers) if a is not None), reverse=True) + [0, 0]
    leader, runner_up = counts[0], counts[1]
    return leader - runner_up > n - len(answers) or beta_tail_above_half(leader + 1, runner_up + 1) >= confidence


@pytest.mark.parametrize("auc", [0.6, 0.8, 0.95])
def test_the_simulated_prm_has_the_auc_it_was_given(auc):
    prm = SimPRM(auc=auc, seed=3)
    sound = [s for [s] in prm.score(None, [[f"holds: step 1 ({k}) done."] for k in range(600)])]
    flawed = [s for [s] in prm.score(None, [[f"slips: step 1 ({k}) done."] for k in range(600)])]
    measured = sum((a > b) + 0.5 * (a == b) for a in sound for b in flawed) / (len(sound) * len(flawed))
    assert abs(measured - auc) <= 0.03
    assert prm.score(None, [["holds: step 1 (7)."]]) == prm.score(None, [["holds: step 1 (7)."]])  # a step scores the same
