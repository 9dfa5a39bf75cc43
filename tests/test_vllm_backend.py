"""The real default backend: the bundled SmolLM2 model in vLLM on this machine's CPU.

Assertions are on the wiring and the accounting, never on the model being right.
"""

import pytest
from typer.testing import CliRunner

import reason
from reason.cli import app
from reason.errors import ConfigError, ModelNotFoundError
from reason.models import resolve_model
from reason.registry import registry
from reason.types import EOS, ChatMessage, ChatPrompt, SamplingParams

pytestmark = pytest.mark.model

QUESTION = "Tom has 3 boxes with 4 pencils in each box. How many pencils does Tom have?"


def chat(text: str, prefix: str = "") -> ChatPrompt:
    return ChatPrompt(messages=(ChatMessage(role="user", content=text),), assistant_prefix=prefix)


def test_n_samples_in_one_call_with_honest_token_counts(vllm_generator):
    prompts = [chat("Count to five."), "The capital of France is"]
    out = vllm_generator.generate(prompts, SamplingParams(n=3, temperature=0.8, max_tokens=12))
    assert [len(per) for per in out] == [3, 3]
    tokenizer = vllm_generator._tokenizer
    for prompt, per_prompt in zip(prompts, out):
        expected_prompt_tokens = len(tokenizer(vllm_generator.render(prompt), add_special_tokens=False)["input_ids"])
        for c in per_prompt:
            assert c.prompt_tokens == expected_prompt_tokens
            assert 1 <= c.generated_tokens == len(c.token_ids) <= 12
            assert c.finish_reason in ("stop", "length")
            assert c.text == tokenizer.decode(c.token_ids, skip_special_tokens=True)


def test_greedy_is_deterministic(vllm_generator):
    params = SamplingParams(temperature=0, max_tokens=16)
    first = vllm_generator.generate([chat(QUESTION)], params)[0][0]
    second = vllm_generator.generate([chat(QUESTION)], params)[0][0]
    assert first.token_ids == second.token_ids


def test_request_seed_reproduces_samples(vllm_generator):
    params = SamplingParams(temperature=1.0, n=2, max_tokens=12, seed=1234)
    first = [c.token_ids for c in vllm_generator.generate([chat(QUESTION)], params)[0]]
    second = [c.token_ids for c in vllm_generator.generate([chat(QUESTION)], params)[0]]
    assert first == second


def test_logprobs_per_token(vllm_generator):
    [[c]] = vllm_generator.generate([chat(QUESTION)], SamplingParams(temperature=0, max_tokens=6, logprobs=3))
    assert c.logprobs is not None and len(c.logprobs) == len(c.token_ids)
    for position in c.logprobs:
        assert position.logprob <= 0.0
        assert 1 <= len(position.top) <= 4
        assert position.top[0].logprob >= position.top[-1].logprob
    # greedy: the chosen token is the most likely one
    assert all(p.logprob == pytest.approx(p.top[0].logprob) for p in c.logprobs)


def test_stop_string_ends_sample_and_the_reason_is_reported(vllm_generator):
    [[c]] = vllm_generator.generate(["1, 2, 3, 4, 5, 6,"], SamplingParams(temperature=0, max_tokens=24, stop=("9",)))
    assert "9" not in c.text and c.finish_reason == "stop" and c.stop_reason == "9"
    chat = ChatPrompt(messages=(ChatMessage(role="user", content="Say only: yes"),))
    [[ended]] = vllm_generator.generate([chat], SamplingParams(temperature=0, max_tokens=64))
    assert ended.finish_reason == "stop" and ended.stop_reason == EOS  # the model closed its turn
    [[cut]] = vllm_generator.generate(["1, 2, 3,"], SamplingParams(temperature=0, max_tokens=2))
    assert cut.finish_reason == "length" and cut.stop_reason is None


def test_assistant_prefix_is_continued_and_prefix_cache_hits(vllm_generator):
    long_question = QUESTION + " " + "Think about it carefully before answering. " * 20
    prompt = chat(long_question, prefix="Step 1:")
    rendered = vllm_generator.render(prompt)
    assert rendered.endswith("<|im_start|>assistant\nStep 1:")
    vllm_generator.generate([prompt], SamplingParams(temperature=0, max_tokens=4))
    [[again]] = vllm_generator.generate([prompt.extended(" First")], SamplingParams(temperature=0, max_tokens=4))
    assert again.cached_prompt_tokens > 0.5 * again.prompt_tokens


def test_a_child_prompt_goes_as_its_parent_s_own_tokens_and_hits_the_cache_on_all_of_them(vllm_generator):
    prompt = chat(QUESTION + " " + "Show each step on its own line. " * 8)
    params = SamplingParams(temperature=0, max_tokens=48, stop=("\n\n",))
    [[step]] = vllm_generator.generate([prompt], params)
    assert step.prompt_token_ids and len(step.prompt_token_ids) == step.prompt_tokens
    continues = step.prompt_token_ids + step.token_ids
    child = prompt.extended(step.text + ("\n\n" if step.finish_reason == "stop" else ""), continues)
    sent = vllm_generator.model_input(child)["prompt_token_ids"]
    assert vllm_generator._tokenizer.decode(sent) == vllm_generator.render(child)
    kept = len(continues) - (sent[: len(continues)] != list(continues))  # a stop inside a token costs that token
    assert sent[: kept] == list(continues[: kept]) and kept >= len(continues) - 1
    [[next_step]] = vllm_generator.generate([child], params)
    assert next_step.prompt_token_ids == tuple(sent)
    block = 32  # the CPU default; every full block the parent computed (all but its last, sampled token) is reused
    assert next_step.cached_prompt_tokens >= (kept - 1) // block * block


def test_solve_self_consistency_end_to_end(vllm_generator):
    engine = reason.Engine(generator=vllm_generator)
    result = engine.solve(QUESTION, "self-consistency", n=4, max_tokens=48)
    assert len(result.samples) == 4
    assert result.compute.model_calls == 1
    assert result.compute.generated_tokens == sum(s.generated_tokens for s in result.samples)
    assert sum(c.votes for c in result.candidates) == sum(s.answer is not None for s in result.samples)
    if result.answer is not None:
        assert result.answer == result.candidates[0].answer


def test_cli_solve_and_interactive_on_the_real_model(vllm_generator):
    class Shared:  # the session's engine behind the CLI's own code path; closing it is not the CLI's job
        name = vllm_generator.name
        generate = staticmethod(vllm_generator.generate)

        def close(self):
            pass

    registry.register("generator", "session-vllm", lambda **options: Shared())
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["solve", QUESTION, "--backend", "session-vllm", "-s", "self-consistency", "--n", "2", "--max-tokens", "32"])
        assert result.exit_code == 0, result.output
        assert "candidate\t" in result.output or "gave no answer" in result.output  # plain lines: not a terminal
        assert "answer:" in result.output and "model calls" in result.output
        session = runner.invoke(app, ["solve", "--backend", "session-vllm", "--max-tokens", "24"], input=f"{QUESTION}\n/n 2\n/quit\n")
        assert session.exit_code == 0, session.output
        assert session.output.count("answer:") == 1
    finally:
        registry.unregister("generator", "session-vllm")


def test_missing_model_paths_are_clear_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(ModelNotFoundError, match="config.json"):
        resolve_model(str(tmp_path))
    (tmp_path / "weights.bin").write_text("x")
    with pytest.raises(ModelNotFoundError, match="not a .gguf"):
        resolve_model(str(tmp_path / "weights.bin"))


def test_unknown_backend_option_is_a_config_error():
    from reason.backends.vllm_backend import VLLMGenerator

    with pytest.raises(ConfigError, match="base_url"):
        VLLMGenerator(base_url="http://x")


def test_an_interrupted_generate_leaves_nothing_behind(vllm_generator, monkeypatch):
    """Ctrl-C in the interactive solver lands inside vLLM's loop; the next call must not run or return those requests."""
    engine = vllm_generator._llm.llm_engine
    greedy = SamplingParams(max_tokens=8, temperature=0.0)
    expected = vllm_generator.generate(["What is 3 + 4?"], greedy)
    real_step, steps = engine.step, []

    def interrupted_step(*args, **kwargs):
        steps.append(1)
        if len(steps) == 3:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(engine, "step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        vllm_generator.generate(["Count to fifty.", "Name ten animals."], SamplingParams(max_tokens=64, n=2))
    monkeypatch.setattr(engine, "step", real_step)
    assert not engine.has_unfinished_requests()
    again = vllm_generator.generate(["What is 3 + 4?"], greedy)
    assert len(again) == 1 and [c.text for c in again[0]] == [c.text for c in expected[0]]
