"""The generation cache: keys, per-problem occurrences, replay, threads, and the cache-only backend."""

import threading

import pytest

from reason.backends.cache import CacheOnlyGenerator, CachingGenerator, GenerationCache
from reason.errors import GeneratorError
from reason.testing import FakeGenerator
from reason.types import ChatMessage, ChatPrompt, SamplingParams

PARAMS = SamplingParams(temperature=0.7, n=2, max_tokens=16, seed=1)


def numbered() -> FakeGenerator:
    counter = iter(range(10_000))
    return FakeGenerator(lambda prompt, params: f"sample {next(counter)}")


def texts(outputs):
    return [[c.text for c in per_prompt] for per_prompt in outputs]


def test_second_pass_is_served_from_the_cache_with_the_same_completions(tmp_path):
    cache = GenerationCache(tmp_path / "c.sqlite")
    backend = numbered()
    first = CachingGenerator(backend, cache)
    out1 = first.generate(["a", "b"], PARAMS)
    assert (first.hits, first.generated) == (0, 4)
    again = CachingGenerator(backend, cache)
    out2 = again.generate(["a", "b"], PARAMS)
    assert texts(out2) == texts(out1) and out2 == out1
    assert (again.hits, again.generated) == (4, 0)
    assert len(backend.calls) == 1
    assert first.generated_tokens == 8 and again.generated_tokens == 0  # "sample N": two tokens, none from the cache


def test_only_missing_prompts_reach_the_backend(tmp_path):
    cache = GenerationCache(tmp_path / "c.sqlite")
    backend = numbered()
    CachingGenerator(backend, cache).generate(["a"], PARAMS)
    gen = CachingGenerator(backend, cache)
    out = gen.generate(["a", "b"], PARAMS)
    assert backend.calls[-1].prompts == ["b"]
    assert texts(out)[0] == ["sample 0", "sample 1"]
    assert (gen.hits, gen.generated) == (2, 2)


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 2}, {"temperature": 0.8}, {"n": 3}, {"max_tokens": 17}, {"stop": ("x",)}, {"top_p": 0.9},
    ],
)
def test_any_sampling_parameter_is_part_of_the_key(tmp_path, change):
    cache = GenerationCache(tmp_path / "c.sqlite")
    backend = numbered()
    CachingGenerator(backend, cache).generate(["a"], PARAMS)
    gen = CachingGenerator(backend, cache)
    gen.generate(["a"], PARAMS.model_copy(update=change))
    assert gen.hits == 0 and len(backend.calls) == 2


def test_model_name_and_chat_structure_are_part_of_the_key(tmp_path):
    cache = GenerationCache(tmp_path / "c.sqlite")
    chat = ChatPrompt(messages=(ChatMessage(role="user", content="a"),))
    CachingGenerator(numbered(), cache).generate([chat], PARAMS)
    other_model = CachingGenerator(FakeGenerator(lambda p, s: "x", name="other"), cache)
    other_model.generate([chat], PARAMS)
    prefixed = CachingGenerator(numbered(), cache)
    prefixed.generate([chat.extended("Step 1:")], PARAMS)
    same = CachingGenerator(numbered(), cache)
    same.generate([ChatPrompt(messages=(ChatMessage(role="user", content="a"),))], PARAMS)
    assert (other_model.hits, prefixed.hits, same.hits) == (0, 0, 2)
    # token ids only say how to send the same text: a replay (whose samples carry none) must hit
    with_ids = CachingGenerator(numbered(), cache)
    with_ids.generate([chat.extended("Step 1:", continues=(5, 6, 7))], PARAMS)
    assert with_ids.hits == 2


def test_asking_twice_in_one_problem_gets_fresh_samples_and_replays_in_order(tmp_path):
    cache = GenerationCache(tmp_path / "c.sqlite")
    gen = CachingGenerator(numbered(), cache)
    first, second = gen.generate(["a"], PARAMS), gen.generate(["a"], PARAMS)
    assert texts(first) != texts(second)
    replay = CachingGenerator(CacheOnlyGenerator("fake"), cache)
    assert texts(replay.generate(["a"], PARAMS)) == texts(first)
    assert texts(replay.generate(["a"], PARAMS)) == texts(second)
    with pytest.raises(GeneratorError, match="not in the generation cache"):
        replay.generate(["a"], PARAMS)  # a third occurrence was never generated


def test_cache_persists_across_connections(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = GenerationCache(path)
    CachingGenerator(numbered(), cache).generate(["a"], PARAMS)
    cache.close()
    reopened = GenerationCache(path)
    assert len(reopened) == 1
    assert CachingGenerator(CacheOnlyGenerator("fake"), reopened).generate(["a"], PARAMS)[0][0].text == "sample 0"


def test_threads_share_one_cache(tmp_path):
    cache = GenerationCache(tmp_path / "c.sqlite")
    backend = FakeGenerator(lambda prompt, params: f"re: {prompt}")
    errors = []

    def work(t):
        try:
            for i in range(20):
                gen = CachingGenerator(backend, cache)
                assert texts(gen.generate([f"t{t}-{i}"], PARAMS))[0] == [f"re: t{t}-{i}"] * 2
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) == 120


def test_without_a_cache_everything_is_generated_and_counted():
    gen = CachingGenerator(numbered(), None)
    gen.generate(["a", "b"], PARAMS)
    gen.generate(["a"], PARAMS)
    assert (gen.hits, gen.generated) == (0, 6)


def test_a_run_served_from_the_cache_reports_throughput_only_for_what_was_generated(tmp_path):
    """The ledger keeps every token a search used; throughput counts only tokens the backend produced."""
    from test_bench_support import arithmetic_generator, write_arithmetic

    from reason.bench.records import read_records
    from reason.bench.runner import RunConfig, run_benchmark

    data = write_arithmetic(tmp_path / "arith.jsonl", 6)
    config = RunConfig(dataset=str(data), question_field="q", answer_field="a", id_field="id", backend="fake",
                       strategy="self-consistency", params={"n": 3, "max_tokens": 32}, cache=str(tmp_path / "shared.sqlite"))
    first = run_benchmark(config, tmp_path / "first", arithmetic_generator()).summary
    cached = run_benchmark(config, tmp_path / "second", arithmetic_generator()).summary
    generated = sum(r.compute.generated_tokens for r in read_records(tmp_path / "first"))
    assert first.timed_generated_tokens == generated > 0 and first.generated_tokens_per_s > 0
    assert cached.cache.hits == 18 and cached.cache.generated == 0
    assert cached.mean_generated_tokens == first.mean_generated_tokens  # the searches used the same tokens
    assert cached.timed_generated_tokens == 0 and cached.generated_tokens_per_s == 0  # and none were generated
