import pytest

from reason.errors import GeneratorError
from reason.generator import (
    Generator,
    MeteredGenerator,
    supports_logprobs,
    supports_prefix_cache,
)
from reason.testing import FakeGenerator
from reason.types import ChatMessage, ChatPrompt, SamplingParams


def test_fake_generator_follows_the_protocol_and_records_calls():
    gen = FakeGenerator(["a b c", "d e"])
    assert isinstance(gen, Generator)
    prompt = ChatPrompt(messages=(ChatMessage(role="user", content="hello there"),), assistant_prefix="so")
    out = gen.generate([prompt], SamplingParams(n=2, temperature=0.5))
    assert [c.text for c in out[0]] == ["a b c", "d e"]
    assert gen.calls[0].prompts == ["user: hello there\nassistant: so"]
    assert gen.calls[0].params.n == 2
    with pytest.raises(GeneratorError, match="exhausted"):
        gen.generate(["x"], SamplingParams())


def test_fake_generator_truncates_at_max_tokens_and_reports_length():
    gen = FakeGenerator(["one two three four"])
    [[c]] = gen.generate(["p"], SamplingParams(max_tokens=2))
    assert c.text == "one two" and c.finish_reason == "length" and c.generated_tokens == 2


def test_fake_generator_callable_script_sees_prompt():
    gen = FakeGenerator(lambda prompt, params: f"echo {prompt}")
    assert gen.generate(["hi"], SamplingParams())[0][0].text == "echo hi"


def test_metered_generator_counts_prompt_once_per_prompt_and_every_sample():
    gen = MeteredGenerator(FakeGenerator(["x y", "z"], cycle=True))
    gen.generate(["p q r", "s"], SamplingParams(n=2, temperature=1.0))
    compute = gen.compute()
    assert compute.prompt_tokens == 3 + 1
    assert compute.generated_tokens == (2 + 1) * 2
    assert compute.model_calls == 1
    prm = MeteredGenerator(FakeGenerator(["x"]), role="prm")
    prm.generate(["a b"], SamplingParams())
    assert prm.compute().prm_prompt_tokens == 2 and prm.compute().prompt_tokens == 0


def test_capability_predicates():
    assert supports_logprobs(FakeGenerator())
    assert not supports_prefix_cache(FakeGenerator())
    assert not supports_logprobs(object())
    assert supports_logprobs(MeteredGenerator(FakeGenerator()))


def test_fake_generator_stops_like_a_backend_and_says_why():
    from reason.types import EOS

    gen = FakeGenerator(["a b\n\nc d", f"done{EOS}", "plain"], cycle=True)
    params = SamplingParams(stop=("\n\n",), n=3)
    first, ended, plain = gen.generate(["p"], params)[0]
    assert (first.text, first.stop_reason) == ("a b", "\n\n")  # cut at the stop string, as vLLM does
    assert (ended.text, ended.stop_reason) == ("done", EOS)  # the script marks the model's own end
    assert (plain.text, plain.stop_reason) == ("plain", "\n\n")  # a scripted step ended by the delimiter
    [[no_stops]] = gen.generate(["p"], SamplingParams())
    assert no_stops.stop_reason == EOS
    [[cut]] = FakeGenerator(["one two three"]).generate(["p"], SamplingParams(max_tokens=1))
    assert cut.finish_reason == "length" and cut.stop_reason is None
