"""Thinking budgets (reason.thinking): the cap, s1's "Wait", the answer kept apart, the ledger, the cache key;
with a scripted reasoning model and with the bundled model through vLLM (in process and behind `vllm serve`)."""

from __future__ import annotations

import pytest

from reason.api import Engine
from reason.backends.cache import key_params
from reason.errors import ConfigError
from reason.generator import MeteredGenerator
from reason.testing import FakeGenerator
from reason.thinking import ThinkingBudget
from reason.types import ChatMessage, ChatPrompt, Problem, SamplingParams

PROMPT = ChatPrompt(messages=(ChatMessage(role="user", content="What is 3 + 4?"),))


def reasoner(thought_words: int, answer: str = "The answer is 7.") -> FakeGenerator:
    """Thinks `thought_words` words (one of them a decoy answer) then closes its span; after the span, answers."""
    def respond(prompt: str, params: SamplingParams) -> str:
        if "</think>" in prompt.rsplit("assistant:", 1)[-1]:
            return answer
        thought = ["the", "answer", "is", "3"] + ["hmm"] * (thought_words - 4)
        return " ".join(thought) + " </think>"
    return FakeGenerator(respond)


def test_the_cap_closes_the_span_and_the_answer_is_asked_for_apart():
    inner = reasoner(50)
    [[completion]] = ThinkingBudget(inner).generate([PROMPT], SamplingParams(max_tokens=20, max_thinking_tokens=10))
    assert completion.thinking_tokens == 10 and len(completion.thinking.split()) == 10
    assert completion.text == "The answer is 7." and completion.generated_tokens == 10 + 4
    think, answer = inner.calls
    assert think.params.max_tokens == 10 and think.params.stop == ("</think>",)
    assert think.prompts[0].endswith("assistant: <think>")
    assert answer.prompts[0].endswith("</think>\n") and answer.params.max_tokens == 20  # closed for the model


def test_a_span_closed_too_soon_is_told_to_wait_and_thinks_on():
    inner = reasoner(5)
    [[completion]] = ThinkingBudget(inner).generate([PROMPT], SamplingParams(max_tokens=20, min_thinking_tokens=12))
    assert completion.thinking.count(" Wait") == 2 and completion.thinking_tokens == 15  # 5 + 5 + 5 >= 12
    assert len(inner.calls) == 4  # think, wait, wait, answer
    assert all("Wait" in c.prompts[0] for c in inner.calls[1:3])


def test_floor_and_cap_together_and_many_samples_of_many_prompts():
    inner = reasoner(6)
    out = ThinkingBudget(inner).generate([PROMPT, PROMPT.model_copy()], SamplingParams(
        max_tokens=20, n=3, temperature=0.7, min_thinking_tokens=8, max_thinking_tokens=9))
    assert [len(row) for row in out] == [3, 3]
    assert all(c.thinking_tokens == 9 and c.text == "The answer is 7." for row in out for c in row)  # 6, then 3 more: cap
    assert len(inner.calls) == 3 and len(inner.calls[1].prompts) == 6  # one batched call per phase


def test_without_a_budget_calls_pass_straight_through():
    inner = reasoner(5)
    [[completion]] = ThinkingBudget(inner).generate([PROMPT], SamplingParams(max_tokens=30))
    assert len(inner.calls) == 1 and completion.thinking == "" and completion.thinking_tokens == 0


def test_every_searcher_gets_it_through_the_engine_and_the_ledger_keeps_thinking_apart():
    with Engine(generator=reasoner(30), thinking={"max_thinking_tokens": 12}) as engine:
        result = engine.solve("What is 3 + 4?", "self-consistency", n=3, max_tokens=16)
    assert result.answer == "7"  # the decoy "the answer is 3" in the thinking never reaches extraction
    assert all(s.thinking and "answer is 3" in s.thinking and s.text == "The answer is 7." for s in result.samples)
    assert result.compute.thinking_tokens == 3 * 12 and result.compute.generated_tokens == 3 * (12 + 4)


def test_a_budget_in_the_params_is_honoured_by_any_metered_call():
    metered = MeteredGenerator(reasoner(30))
    [[completion]] = metered.generate([PROMPT], SamplingParams(max_tokens=16, max_thinking_tokens=7))
    assert completion.thinking_tokens == 7 and metered.compute().thinking_tokens == 7


def test_a_floor_over_the_cap_is_refused():
    with pytest.raises(ConfigError, match="min_thinking_tokens"):
        SamplingParams(max_thinking_tokens=5, min_thinking_tokens=10)


def test_cache_keys_of_calls_without_a_budget_are_what_they_were():
    params = SamplingParams(temperature=0.7, n=2, max_tokens=16, seed=1)
    assert key_params(params) == params.model_dump_json(exclude={"max_thinking_tokens", "min_thinking_tokens"})
    assert key_params(params) != key_params(params.model_copy(update={"max_thinking_tokens": 8}))


@pytest.mark.model
def test_the_cap_holds_on_the_bundled_model(vllm_generator):
    budget = ThinkingBudget(vllm_generator)
    params = SamplingParams(max_tokens=16, max_thinking_tokens=12, temperature=0.8, n=2, seed=0)
    [row] = budget.generate([PROMPT], params)
    assert len(row) == 2
    for completion in row:
        assert 0 < completion.thinking_tokens <= 12 and completion.thinking
        assert completion.generated_tokens == completion.thinking_tokens + len(completion.token_ids)
        assert "</think>" not in completion.text


@pytest.mark.model
def test_the_cap_and_the_floor_hold_through_a_real_vllm_server(bundled_model_path):
    from servers import vllm_server

    with vllm_server(bundled_model_path, "--seed", "0") as running, \
            Engine(backend="http", base_url=running.base_url, thinking={"max_thinking_tokens": 10}) as engine:
        result = engine.solve("What is 3 + 4?", "self-consistency", n=2, max_tokens=12)
        params = SamplingParams(max_tokens=8, min_thinking_tokens=6, max_thinking_tokens=14, temperature=0.8, seed=1)
        [[completion]] = engine.generator.generate([PROMPT], params)
    assert all(s.thinking for s in result.samples) and 0 < result.compute.thinking_tokens <= 2 * 10
    assert result.compute.model_calls == 1 and result.compute.generated_tokens > result.compute.thinking_tokens
    assert 6 <= completion.thinking_tokens <= 14 or completion.thinking.count(" Wait") == 4


def test_solve_takes_thinking_budgets_and_refuses_a_floor_over_the_cap():
    import json

    from typer.testing import CliRunner

    from reason.cli import app

    runner = CliRunner()
    fake = ["--backend", "fake", "--backend-opt", 'script=["the answer is 3 hmm hmm hmm </think>", "The answer is 4."]',
            "--backend-opt", "cycle=true"]
    out = runner.invoke(app, ["solve", "Q?", *fake, "--max-thinking-tokens", "5", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["answer"] == "4" and result["compute"]["thinking_tokens"] == 5
    assert result["samples"][0]["thinking"] == "the answer is 3 hmm"
    refused = runner.invoke(app, ["solve", "Q?", *fake, "--max-thinking-tokens", "5", "--min-thinking-tokens", "9"])
    assert refused.exit_code == 2 and "min_thinking_tokens=9 is over max_thinking_tokens=5" in refused.output


def arithmetic_reasoner() -> FakeGenerator:
    """Thinks 30 words, the first four a decoy answer ("the answer is 1"), then closes its span; after the span
    it answers the question "What is a + b?" right."""
    import re

    def respond(prompt: str, params: SamplingParams) -> str:
        a, b = map(int, re.findall(r"What is (\d+) \+ (\d+)\?", prompt)[-1])
        if "</think>" in prompt.rsplit("assistant:", 1)[-1]:
            return f"The answer is {a + b}."
        return " ".join(["the", "answer", "is", "1"] + ["hmm"] * 26) + " </think>"
    return FakeGenerator(respond)


def test_a_bench_run_gives_every_call_its_thinking_budget_and_a_resume_keeps_it(tmp_path):
    from test_bench_support import write_arithmetic

    from reason.bench.errors import RunDirError
    from reason.bench.records import read_records
    from reason.bench.runner import RunConfig, run_benchmark
    from reason.thinking import ThinkingOptions

    data = write_arithmetic(tmp_path / "arith.jsonl", 4)
    base = dict(dataset=str(data), question_field="q", answer_field="a", id_field="id", backend="fake",
                strategy="self-consistency", params={"n": 2, "max_tokens": 40}, concurrency=2)
    plain = run_benchmark(RunConfig(**base), tmp_path / "plain", arithmetic_reasoner())
    assert plain.summary.correct == 0  # without a budget the span is the text: its decoy "1" is read as the answer
    config = RunConfig(**base, thinking=ThinkingOptions(max_thinking_tokens=10))
    capped = run_benchmark(config, tmp_path / "capped", arithmetic_reasoner())
    assert capped.summary.correct == 4
    for record in read_records(tmp_path / "capped"):
        assert record.compute.thinking_tokens == 2 * 10  # two samples, each span cut at the cap
        assert all(s.thinking.startswith("the answer is 1") and s.answer == record.reference for s in record.samples)
    with pytest.raises(RunDirError, match="thinking"):
        run_benchmark(RunConfig(**base, thinking=ThinkingOptions(max_thinking_tokens=20)), tmp_path / "capped",
                      arithmetic_reasoner())


def test_bench_run_takes_the_thinking_flags_and_refuses_a_floor_over_the_cap(tmp_path):
    import json

    from test_bench_support import write_arithmetic
    from typer.testing import CliRunner

    from reason.bench_cli import bench_app

    data = write_arithmetic(tmp_path / "arith.jsonl", 2)
    args = [str(data), "--question-field", "q", "--answer-field", "a", "--id-field", "id", "--backend", "fake",
            "--backend-opt", 'script=["The answer is 3."]', "--backend-opt", "cycle=true", "-q"]
    done = CliRunner().invoke(bench_app, [*args, "--out", str(tmp_path / "run"), "--max-thinking-tokens", "5"])
    assert done.exit_code == 0, done.output
    stored = json.loads((tmp_path / "run" / "run.json").read_text())["config"]["thinking"]
    assert stored["max_thinking_tokens"] == 5 and stored["min_thinking_tokens"] is None
    refused = CliRunner().invoke(bench_app, [*args, "--out", str(tmp_path / "bad"), "--max-thinking-tokens", "5",
                                             "--min-thinking-tokens", "9"])
    assert refused.exit_code == 2 and "min_thinking_tokens=9 is over max_thinking_tokens=5" in refused.output
    assert not (tmp_path / "bad").exists()


def test_a_searcher_with_a_thinking_budget_travels_by_pickle_as_ray_sends_it():
    import pickle

    from reason.searchers.self_consistency import SelfConsistency
    from reason.thinking import ThinkingOptions, with_thinking

    searcher = with_thinking(SelfConsistency(n=2), ThinkingOptions(max_thinking_tokens=10))
    copy = pickle.loads(pickle.dumps(searcher))
    assert copy == searcher and copy.strategy == "self-consistency" and copy.n == 2
    result = copy.search(Problem(question="What is 1 + 2?"), arithmetic_reasoner())
    assert result.answer == "3" and result.compute.thinking_tokens == 20


def test_reason_serve_refuses_a_floor_over_the_cap_before_it_loads_a_model():
    from typer.testing import CliRunner

    from reason.cli import app

    refused = CliRunner().invoke(app, ["serve", "--backend", "fake", "--max-thinking-tokens", "5",
                                       "--min-thinking-tokens", "9"])
    assert refused.exit_code == 2 and "min_thinking_tokens=9 is over max_thinking_tokens=5" in refused.output
