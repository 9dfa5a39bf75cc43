"""DeepConf's confidences, filter and vote checked against the paper authors' own code.

The reference is `deepconf/utils.py` from the authors' package on PyPI (deepconf 0.1.0, Yichao Fu et al.,
facebookresearch/deepconf, MIT per its file header), unpacked by scripts/peer_suites.py (run by
scripts/setup.sh; nothing of it is committed). It reads vLLM's per-position logprob dicts; the traces here
are random (seeded) dicts of that shape, read by both sides: the authors' functions and ours
(searchers/confidence.py, searchers/deepconf.py). The authors round each token confidence to 3 decimals,
so the measures agree to 1e-3; the filters and thresholds are compared on the same confidences exactly.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from reason.searchers.confidence import keep_threshold, token_confidence, trace_confidence
from reason.searchers.deepconf import DeepConf
from reason.types import Completion, Problem, TokenLogprob, TopLogprob

REFERENCE = Path(__file__).resolve().parents[1] / ".cache" / "peer-suites" / "deepconf-0.1.0" / "deepconf" / "utils.py"
np = pytest.importorskip("numpy")  # the authors' code needs it (vLLM brings it)


@pytest.fixture(scope="module")
def authors():
    if not REFERENCE.is_file():
        raise FileNotFoundError(f"{REFERENCE} is missing: run `python scripts/peer_suites.py` (scripts/setup.sh does)")
    spec = importlib.util.spec_from_file_location("deepconf_reference_utils", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_trace(rng: random.Random, length: int, top: int = 5) -> list[dict[int, SimpleNamespace]]:
    """Per position, vLLM's {token id: Logprob} for the top candidates; calm and unsure stretches alternate."""
    positions = []
    unsure = False
    for _ in range(length):
        if rng.random() < 0.05:
            unsure = not unsure
        spread = rng.uniform(2.0, 4.0) if unsure else rng.uniform(0.05, 1.0)
        logits = sorted((rng.gauss(0, spread) for _ in range(top)), reverse=True)
        logits[0] += 0 if unsure else rng.uniform(2, 8)
        norm = np.log(np.sum(np.exp(logits))) + rng.uniform(0.0, 0.5)  # the rest of the vocabulary has some mass
        positions.append({token: SimpleNamespace(logprob=float(v - norm)) for token, v in enumerate(logits)})
    return positions


def ours(position: dict[int, SimpleNamespace]) -> TokenLogprob:
    """The same position as our vLLM backend reads it (reason/backends/vllm_backend.py: every candidate, best first)."""
    ranked = sorted(position.values(), key=lambda lp: -lp.logprob)
    return TokenLogprob(token="t", logprob=ranked[0].logprob,
                        top=tuple(TopLogprob(token="t", logprob=lp.logprob) for lp in ranked))


TRACES = [(seed, length) for seed, length in enumerate([3, 40, 64, 65, 130, 300, 641, 1000])]


@pytest.mark.parametrize(("seed", "length"), TRACES)
def test_token_and_trace_confidences_match_the_authors(authors, seed, length):
    positions = random_trace(random.Random(seed), length)
    tokens = [ours(p) for p in positions]
    confs = authors.compute_confidence(positions)
    assert [round(token_confidence(t), 3) for t in tokens] == pytest.approx(confs, abs=1e-9)
    trace = {"confs": confs}
    for window in (16, 64, 2048):
        expected = {
            "lowest-group": min(authors.compute_least_grouped(confs, window)),
            "bottom-10-group": authors.calculate_bottom_window_confidence(trace, window, 0.1),
            "tail": authors.calculate_tail_confidence(trace, window),
            "average": authors.calculate_mean_confidence(trace),
        }
        measured = {measure: trace_confidence(tokens, measure, window) for measure in expected}
        assert measured == pytest.approx(expected, abs=1e-3), window
    # the min-window measure the authors compute a second way is the same number
    assert authors.calculate_bottom_window_confidence(trace, 16, -1) == pytest.approx(
        min(authors.compute_least_grouped(confs, 16)), abs=1e-3)


@pytest.mark.parametrize("keep", [0.1, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("count", [1, 2, 5, 8, 16, 33])
def test_the_keep_filter_draws_the_authors_line(authors, keep, count):
    rng = random.Random(count * 100 + int(keep * 10))
    confidences = [round(rng.uniform(0.5, 12.0), 2) for _ in range(count)]
    if count > 4:
        confidences[1] = confidences[3]  # a tie at the line must fall the same way
    traces = [{"confs": [c], "id": i} for i, c in enumerate(confidences)]
    kept = authors.filter_top_confidence(traces, "mean", top_percent=keep)
    bar = keep_threshold(confidences, keep)
    assert bar == pytest.approx(float(np.percentile(confidences, (1 - keep) * 100)))
    assert [i for i, c in enumerate(confidences) if c >= bar] == [t["id"] for t in kept]


def test_the_online_threshold_is_the_authors_percentile_of_the_warmup(authors):
    """The authors' online mode: conf_bar = np.percentile(warm-up lowest-group confidences, 100 - confidence_percentile)."""
    rng = random.Random(7)
    minimums = [min(authors.compute_least_grouped(authors.compute_confidence(random_trace(rng, 200)), 32))
                for _ in range(16)]
    for confidence_percentile in (10, 50, 90):
        expected = float(np.percentile(minimums, 100 - confidence_percentile))
        assert keep_threshold(minimums, confidence_percentile / 100) == pytest.approx(expected)


class Replay:
    """A backend that returns the given completions (with their logprobs) as one batch."""

    name, supports_logprobs = "replay", True

    def __init__(self, completions: list[Completion]) -> None:
        self.completions = completions

    def generate(self, prompts, params):
        return [list(self.completions[: params.n]) for _ in prompts]


def test_a_deepconf_search_keeps_and_weighs_what_the_authors_code_keeps_and_weighs(authors):
    """End to end: 12 traces with known logprobs and answers through our searcher; the traces that vote and the
    answer are the authors' filter (DeepConf-high: the 10th percentile) followed by their confidence-weighted vote."""
    rng = random.Random(3)
    answers = ["12", "15", "12", "9", "15", "15", "12", "9", "15", "12", "20", "15"]
    traces = [random_trace(rng, rng.randrange(80, 200)) for _ in answers]
    completions = [Completion(text=f"Some steps.\nThe answer is {a}.", generated_tokens=len(t), prompt_tokens=10,
                              logprobs=tuple(ours(p) for p in t)) for a, t in zip(answers, traces)]
    result = DeepConf(n=len(answers), keep=0.9, window=32).search(Problem(question="q?"), Replay(completions))
    reference = [{"confs": authors.compute_confidence(t), "extracted_answer": a} for t, a in zip(traces, answers)]
    for trace in reference:
        trace["min_conf"] = min(authors.compute_least_grouped(trace["confs"], 32))
    bar = np.percentile([t["min_conf"] for t in reference], 10)  # DeepConf-high: keep 90%
    voting = [t for t in reference if t["min_conf"] >= bar]
    expected = authors.weighted_majority_vote([t["extracted_answer"] for t in voting], [t["min_conf"] for t in voting])
    assert sorted(s.score for s in result.samples) == pytest.approx(sorted(t["min_conf"] for t in voting), abs=1e-3)
    assert result.answer == expected
