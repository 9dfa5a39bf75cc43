"""DeepConf offline: the paper's confidence measures on hand-made token logprobs, the least confident traces
dropped before a confidence-weighted vote, and a backend without logprobs refused."""

from __future__ import annotations

import pytest

from reason.errors import ConfigError
from reason.searchers.confidence import group_confidences, token_confidence, trace_confidence
from reason.searchers.deepconf import DeepConf
from reason.testing import FakeGenerator
from reason.types import Completion, Problem, TokenLogprob, TopLogprob

Q = Problem(question="What is 3 + 4?")


def tok(logprob: float, k: int = 2) -> TokenLogprob:
    return TokenLogprob(token="w", logprob=logprob, top=tuple(TopLogprob(token="w", logprob=logprob) for _ in range(k)))


def test_token_and_group_confidence():
    assert token_confidence(TokenLogprob(token="a", logprob=-0.5, top=(TopLogprob(token="a", logprob=-0.5),
                                                                      TopLogprob(token="b", logprob=-2.5)))) == 1.5
    assert token_confidence(TokenLogprob(token="a", logprob=-0.25)) == 0.25
    tokens = [tok(-1.0)] * 4 + [tok(-5.0)] * 2 + [tok(-1.0)] * 4
    assert group_confidences(tokens, 2) == [1.0, 1.0, 1.0, 3.0, 5.0, 3.0, 1.0, 1.0, 1.0]
    assert trace_confidence(tokens, "lowest-group", 2) == 1.0
    assert trace_confidence(tokens, "average", 2) == pytest.approx(1.8)
    assert trace_confidence(tokens, "tail", 4) == 1.0
    assert trace_confidence(tokens, "bottom-10-group", 2) == 1.0  # int(0.1 * 9) = 0, at least 1 group: the lowest


SURE = (-0.01, -8.0, -8.0)
"""A peaked distribution: the chosen token near certain, its alternatives improbable (confidence 5.34)."""
EVEN = (-1.1, -1.1, -1.1)
"""Three candidates about equally likely (confidence 1.1): the model is unsure."""


class Confident(FakeGenerator):
    """Sure of the words it writes, except "hmm", where its top candidates are nearly even."""

    def generate(self, prompts, params):
        out = super().generate(prompts, params)
        return [[self._with_logprobs(c) for c in batch] for batch in out]

    @staticmethod
    def _with_logprobs(c: Completion) -> Completion:
        def token(word: str) -> TokenLogprob:
            top = EVEN if word == "hmm" else SURE
            return TokenLogprob(token=word, logprob=top[0], top=tuple(TopLogprob(token=word, logprob=v) for v in top))

        return c.model_copy(update={"logprobs": tuple(token(w) for w in c.text.split())})


def test_unsure_traces_are_dropped_before_the_vote():
    script = ["hmm hmm hmm The answer is 5.", "hmm hmm hmm The answer is 5.", "hmm hmm hmm The answer is 5.",
              "3 + 4 = 7. The answer is 7.", "3 + 4 = 7. The answer is 7."]
    majority = DeepConf(n=5, keep=1.0, window=3, select="majority").search(Q, Confident(script))
    assert majority.answer == "5"  # every trace votes: the unsure majority wins
    filtered = DeepConf(n=5, keep=0.4, window=3).search(Q, Confident(script))
    assert filtered.answer == "7" and filtered.trace["dropped"] == 3 and len(filtered.samples) == 2
    assert filtered.trace["confidences"][:2] == [5.3367, 5.3367] and filtered.trace["confidences"][-1] == 1.1


def test_a_backend_without_logprobs_is_refused():
    gen = FakeGenerator(["The answer is 7."], cycle=True)
    gen.supports_logprobs = False
    with pytest.raises(ConfigError, match="needs token logprobs"):
        DeepConf(n=2).search(Q, gen)


def test_compute_is_in_the_ledger_and_the_budget_holds():
    result = DeepConf(n=8, max_tokens=10, budget={"tokens": 40}).search(Q, Confident(["The answer is 7."], cycle=True))
    assert result.compute.generated_tokens <= 40 and result.compute.model_calls == 1


@pytest.mark.model
def test_on_the_bundled_model_the_confidences_come_from_vllms_top_logprobs(vllm_generator):
    result = DeepConf(n=4, keep=0.5, max_tokens=24, window=8, seed=0).search(Q, vllm_generator)
    confidences = result.trace["confidences"]
    assert len(confidences) == 4 and all(c > 0 for c in confidences) and len(set(confidences)) > 1
    assert result.trace["kept"] == 2 and result.compute.generated_tokens > 0


def test_select_confidence_weighs_any_samplers_votes_by_the_models_own_confidence():
    from reason.api import make_searcher

    script = ["hmm hmm hmm The answer is 5.", "hmm hmm hmm The answer is 5.", "hmm hmm hmm The answer is 5.",
              "3 + 4 = 7. The answer is 7.", "3 + 4 = 7. The answer is 7."]
    plain = make_searcher("self-consistency", n=5).search(Q, Confident(script))
    weighed = make_searcher("self-consistency", n=5, select="confidence").search(Q, Confident(script))
    assert plain.answer == "5" and weighed.answer == "7"  # 2 x 5.34 outweighs 3 x 1.1
    assert all(s.confidence is not None for s in weighed.samples)
    assert weighed.candidates[0].score == pytest.approx(2 * 5.3367, abs=1e-3)
    best_of = make_searcher("best-of-n", n=5, select="confidence", prm="fake").search(Q, Confident(script))
    assert best_of.answer == "7"


def test_without_logprobs_a_confidence_vote_is_a_majority_vote():
    from reason.types import Sample
    from reason.voting import VOTES, majority

    samples = [Sample(text="", answer=a) for a in ("4", "5", "5")]
    same = lambda a, b: a == b  # noqa: E731
    assert [c.answer for c in VOTES["confidence"](samples, same)] == [c.answer for c in majority(samples, same)]


class Counting:
    """A generator wrapper that adds up every token the backend generated and every call."""

    def __init__(self, inner) -> None:
        self.inner, self.tokens, self.calls = inner, 0, []
        self.name, self.supports_logprobs = inner.name, True

    def generate(self, prompts, params):
        out = self.inner.generate(prompts, params)
        self.tokens += sum(c.generated_tokens for row in out for c in row)
        self.calls.append((len(prompts), params.n, params.max_tokens))
        return out

    def close(self) -> None:
        pass


def test_online_mode_stops_unsure_traces_chunk_by_chunk_and_counts_their_tokens():
    from reason.sim import SimConfig, SimGenerator, SimWorld

    config = SimConfig(seed=4, signal=1.0)
    generator = Counting(SimGenerator(config))
    searcher = DeepConf(n=8, keep=0.5, window=16, max_tokens=256, mode="online", warmup=4, chunk_tokens=16)
    stopped = 0
    for problem in SimWorld(config).problems(20):
        before = generator.tokens
        result = searcher.search(problem, generator)
        assert result.compute.generated_tokens == generator.tokens - before  # stopped traces' tokens are in the ledger
        trace = result.trace
        assert trace["warmup"] == 4 and trace["voting"] == len(result.samples) >= 1
        assert all(s.score is not None and s.score >= trace["threshold"] - 1e-4 for s in result.samples)  # (rounded)
        stopped += trace["early_stopped"]
        assert trace["early_stopped_tokens"] <= 4 * 64
    assert stopped > 0
    first_rounds = [call for call in generator.calls if call[1] == 4 and call[2] == 16]  # the 4 later traces' first chunk
    assert first_rounds and all(call[0] == 1 for call in first_rounds)  # one prompt, n samples
    assert any(call[1] == 1 and call[0] > 1 for call in generator.calls)  # then each trace continues its own text


def test_online_mode_reads_the_lowest_window():
    with pytest.raises(ValueError, match="lowest-group"):
        DeepConf(mode="online", measure="tail")


@pytest.mark.model
def test_online_mode_on_the_bundled_model(vllm_generator):
    searcher = DeepConf(n=6, keep=0.5, window=8, max_tokens=32, mode="online", warmup=2, chunk_tokens=8, seed=0)
    result = searcher.search(Q, vllm_generator)
    trace = result.trace
    assert trace["warmup"] == 2 and trace["voting"] == len(result.samples) >= 1
    assert result.compute.model_calls >= 2  # the warm-up call, then rounds of chunks
    assert trace["early_stopped_tokens"] <= result.compute.generated_tokens


def test_a_settled_warm_up_grows_nothing_more_with_a_consensus_stop():
    generator = FakeGenerator(["Three and four.\nThe answer is 7."], cycle=True)
    searcher = DeepConf(n=8, keep=0.9, window=4, max_tokens=64, mode="online", warmup=3, chunk_tokens=8,
                        consensus=0.95)
    result = searcher.search(Q, generator)
    assert len(generator.calls) == 1 and result.answer == "7"  # the warm-up alone: 3 of 3 agree
    assert result.trace["consensus_stopped"] == 5 and result.trace["consensus_stopped_tokens"] == 0
    without = DeepConf(n=8, keep=0.9, window=4, max_tokens=64, mode="online", warmup=3, chunk_tokens=8)
    generator = FakeGenerator(["Three and four.\nThe answer is 7."], cycle=True)
    assert without.search(Q, generator).trace["consensus_stopped"] == 0 and len(generator.calls) > 1
    with pytest.raises(ValueError):
        DeepConf(consensus=0.5)  # a share a tie can reach settles nothing
