"""The OpenAI-compatible HTTP backend.

Unit tests talk real HTTP to a tiny scripted server (http.server on 127.0.0.1) that records each
request and answers from a script, so translation, parsing, retries and timeouts are checked on
the wire. Integration tests start a real `vllm serve` of the bundled model once for the module.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from servers import free_port, vllm_server  # tests/ is on sys.path under pytest

from reason.api import Engine
from reason.backends.http_backend import HTTPGenerator
from reason.errors import (
    BackendUnavailableError,
    ConfigError,
    GeneratorError,
    ReasonError,
)
from reason.generator import (
    MeteredGenerator,
    supports_logprobs,
    supports_prefix_cache,
    supports_request_seed,
)
from reason.types import EOS, ChatMessage, ChatPrompt, Problem, SamplingParams

QUESTION = ChatPrompt(messages=(ChatMessage(role="user", content="What is 2+3?"),))


# ---------------------------------------------------------------- scripted server


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    """A dict is sent as JSON, a str as is; None: an echo completion built from the request."""
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Script:
    replies: list[Reply] = field(default_factory=list)
    """Consumed in order; when empty, every request gets an echo completion."""
    requests: list[tuple[str, dict]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def echo(path: str, body: dict) -> dict:
    """A completion whose text names the prompt, n choices, 3 token ids each."""
    prompt = body.get("prompt") or body["messages"][-1]["content"]
    choices = []
    for i in range(body.get("n", 1)):
        text = f"{prompt}#{i}"
        choice = {"index": i, "finish_reason": "length", "token_ids": [7, 8, 9]}
        choice.update({"message": {"role": "assistant", "content": text}} if "chat" in path else {"text": text})
        choices.append(choice)
    usage = {"prompt_tokens": 5, "completion_tokens": 3 * len(choices), "total_tokens": 5 + 3 * len(choices)}
    return {"choices": choices, "usage": usage}


def make_handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            self._answer({})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            self._answer(json.loads(self.rfile.read(length) or b"{}"))

        def _answer(self, body: dict) -> None:
            path = self.path.removeprefix("/v1")
            with script.lock:
                script.requests.append((path, body))
                script.in_flight += 1
                script.max_in_flight = max(script.max_in_flight, script.in_flight)
                reply = script.replies.pop(0) if script.replies else Reply()
            try:
                time.sleep(reply.delay_s)
                payload = reply.body if reply.body is not None else _default(path, body)
                data = payload if isinstance(payload, str) else json.dumps(payload)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data.encode())))
                self.end_headers()
                self.wfile.write(data.encode())
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)
            finally:
                with script.lock:
                    script.in_flight -= 1

    return Handler


def _default(path: str, body: dict) -> dict:
    if path == "/models":
        return {"object": "list", "data": [{"id": "scripted-model"}, {"id": "second"}]}
    return echo(path, body)


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_gen(scripted) -> Iterator[Callable[..., HTTPGenerator]]:
    url, _ = scripted
    made: list[HTTPGenerator] = []

    def make(**options: Any) -> HTTPGenerator:
        gen = HTTPGenerator(**{"base_url": url, "backoff_s": 0.01, **options})
        made.append(gen)
        return gen

    yield make
    for gen in made:
        gen.close()


# ---------------------------------------------------------------- translation


def test_plain_prompt_maps_every_sampling_param(make_gen, scripted):
    _, script = scripted
    params = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=12, n=2, stop=("\n\n",), seed=3, logprobs=2)
    make_gen(model="m").generate(["2+2="], params)
    [(path, body)] = script.requests
    assert path == "/completions"
    assert body == {
        "model": "m", "prompt": "2+2=", "temperature": 0.7, "top_p": 0.9, "max_tokens": 12, "n": 2,
        "stop": ["\n\n"], "seed": 3, "logprobs": 2, "return_token_ids": True,
    }  # fmt: skip


def test_chat_prompt_sends_messages_and_chat_logprobs(make_gen, scripted):
    _, script = scripted
    make_gen(model="m").generate([QUESTION], SamplingParams(max_tokens=4, logprobs=0))
    [(path, body)] = script.requests
    assert path == "/chat/completions"
    assert body["messages"] == [{"role": "user", "content": "What is 2+3?"}]
    assert (body["logprobs"], body["top_logprobs"]) == (True, 0)
    assert "continue_final_message" not in body and "stop" not in body and "seed" not in body


def test_assistant_prefix_is_sent_verbatim_as_a_continued_final_message(make_gen, scripted):
    _, script = scripted
    prefix = "Step 1: add 2 and 3.\n  "
    make_gen(model="m").generate([QUESTION.extended(prefix)], SamplingParams(max_tokens=4))
    body = script.requests[0][1]
    assert body["messages"][-1] == {"role": "assistant", "content": prefix}
    assert (body["continue_final_message"], body["add_generation_prompt"]) == (True, False)


def test_extra_body_is_merged_and_token_ids_can_be_turned_off(make_gen, scripted):
    _, script = scripted
    make_gen(model="m", extra_body={"top_k": 5}, return_token_ids=False).generate(["x"], SamplingParams())
    body = script.requests[0][1]
    assert body["top_k"] == 5 and "return_token_ids" not in body


def test_model_defaults_to_the_servers_first_model(make_gen, scripted):
    _, script = scripted
    gen = make_gen()
    assert gen.name == "scripted-model"
    gen.generate(["x"], SamplingParams(max_tokens=2))
    assert script.requests[0][0] == "/models" and script.requests[1][1]["model"] == "scripted-model"


def test_chat_in_completions_mode_needs_a_tokenizer_and_fails_before_sending(make_gen, scripted):
    _, script = scripted
    gen = make_gen(model="m", api="completions")
    with pytest.raises(ConfigError, match="tokenizer"):
        gen.generate(["fine", QUESTION], SamplingParams(max_tokens=2))
    assert script.requests == []


def test_completions_mode_renders_chat_with_the_local_template(make_gen, scripted, bundled_model_path):
    from transformers import AutoTokenizer

    _, script = scripted
    gen = make_gen(model="m", api="completions", tokenizer=bundled_model_path)
    gen.generate([QUESTION.extended("Step 1:")], SamplingParams(max_tokens=2))
    [(path, body)] = script.requests
    template = AutoTokenizer.from_pretrained(bundled_model_path).apply_chat_template(
        [{"role": "user", "content": "What is 2+3?"}], tokenize=False, add_generation_prompt=True
    )
    assert path == "/completions" and body["prompt"] == template + "Step 1:"


def test_completions_mode_sends_a_continued_chat_as_the_model_s_own_tokens(make_gen, scripted, bundled_model_path):
    from transformers import AutoTokenizer

    _, script = scripted
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path)
    head = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2+3?"}], tokenize=False, add_generation_prompt=True
    )
    step = [tokenizer.convert_tokens_to_ids(t) for t in tokenizer.tokenize(" 5")] + tokenizer.encode(".\n\n")
    continues = tuple(tokenizer.encode(head) + step)
    gen = make_gen(model="m", api="completions", tokenizer=bundled_model_path)
    other_chat = ChatPrompt(messages=(ChatMessage(role="user", content="What is 9+9?"),))
    gen.generate([QUESTION.extended(" 5.\n\nSo", continues), other_chat.extended(" 5.", continues)], SamplingParams())
    sent = sorted((body["prompt"] for _, body in script.requests), key=lambda p: isinstance(p, str))
    assert sent[0] == list(continues) + tokenizer.encode("So")  # ids: the cache sees what it computed
    assert isinstance(sent[1], str) and sent[1].endswith(" 5.")  # ids of another chat are not used


def test_completions_mode_uses_a_plain_transcript_for_a_tokenizer_without_template(make_gen, scripted):
    from reason.models import resolve_model

    try:
        base_model = resolve_model("gemma3-270m").path  # a base model: its tokenizer has no chat template
    except ReasonError as exc:
        pytest.skip(f"gemma3-270m is not installed: {exc}")
    _, script = scripted
    make_gen(model="m", api="completions", tokenizer=base_model).generate([QUESTION.extended("It")], SamplingParams())
    assert script.requests[0][1]["prompt"] == "user: What is 2+3?\nassistant: It"


def test_unknown_option_is_rejected():
    with pytest.raises(ConfigError, match="retries"):
        HTTPGenerator(model="m", base_url="http://127.0.0.1:1/v1", retries=3)
    with pytest.raises(ConfigError, match="retries"):
        Engine(backend="http", model="m", retries=3)


def test_capabilities():
    assert HTTPGenerator.supports_logprobs and supports_logprobs(HTTPGenerator)
    assert supports_prefix_cache(HTTPGenerator) and supports_request_seed(HTTPGenerator)


# ---------------------------------------------------------------- parsing


def test_completion_logprobs_and_accounting(make_gen, scripted):
    _, script = scripted
    choice = {
        "index": 0, "text": "10", "finish_reason": "length", "token_ids": [33, 32],
        "logprobs": {
            "tokens": ["1", "0"], "token_logprobs": [-1.5, -1.8],
            "top_logprobs": [{"3": -1.9, "1": -1.5}, {"0": -1.8, "1": -1.6}],
        },
    }  # fmt: skip
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 3}}
    script.replies.append(Reply(body={"choices": [choice], "usage": usage}))
    [[c]] = make_gen(model="m").generate(["2+2="], SamplingParams(max_tokens=2, logprobs=1))
    assert (c.text, c.token_ids, c.finish_reason) == ("10", (33, 32), "length")
    assert (c.prompt_tokens, c.generated_tokens, c.cached_prompt_tokens) == (4, 2, 3)
    assert [(t.token, t.logprob) for t in c.logprobs] == [("1", -1.5), ("0", -1.8)]
    assert [(t.token, t.logprob) for t in c.logprobs[0].top] == [("1", -1.5), ("3", -1.9)]  # best first


def test_chat_choices_in_index_order_counted_from_logprobs(make_gen, scripted):
    _, script = scripted

    def choice(i: int, tokens: list[str]) -> dict:
        content = [{"token": t, "logprob": -0.5, "top_logprobs": [{"token": t, "logprob": -0.5}]} for t in tokens]
        return {"index": i, "message": {"content": "".join(tokens)}, "finish_reason": "stop", "logprobs": {"content": content}}

    body = {"choices": [choice(1, ["b"]), choice(0, ["a", "a", "a"])], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}
    script.replies.append(Reply(body=body))
    [[first, second]] = make_gen(model="m", return_token_ids=False).generate(
        [QUESTION], SamplingParams(n=2, max_tokens=3, logprobs=0)
    )
    assert (first.text, first.generated_tokens, second.text, second.generated_tokens) == ("aaa", 3, "b", 1)
    assert first.logprobs[0].top[0].token == "a" and first.prompt_tokens == second.prompt_tokens == 9


def test_usage_split_evenly_only_as_a_logged_fallback(make_gen, scripted, caplog):
    _, script = scripted
    choices = [{"index": i, "text": t, "finish_reason": "stop"} for i, t in enumerate(["x y z", "w"])]
    script.replies.append(Reply(body={"choices": choices, "usage": {"prompt_tokens": 2, "completion_tokens": 7}}))
    with caplog.at_level(logging.WARNING, logger="reason.backends.http_backend"):
        [[a, b]] = make_gen(model="m").generate(["p"], SamplingParams(n=2))
    assert (a.generated_tokens, b.generated_tokens) == (4, 3)
    assert "splitting usage.completion_tokens" in caplog.text


def test_stop_reason_when_the_server_reports_it_and_unknown_when_not(make_gen, scripted):
    _, script = scripted
    reported = [("stop", "\n\n"), ("stop", None), ("stop", 13), ("length", None)]
    choices = [{"index": i, "text": "x", "finish_reason": f, "stop_reason": r} for i, (f, r) in enumerate(reported)]
    plain = [{"index": 0, "text": "x", "finish_reason": "stop"}]  # an OpenAI server: no stop_reason key
    script.replies += [Reply(body={"choices": choices}), Reply(body={"choices": plain})]
    gen = make_gen(model="m")
    [samples] = gen.generate(["p"], SamplingParams(n=4, temperature=1))
    assert [c.stop_reason for c in samples] == ["\n\n", EOS, "token 13", None]
    assert gen.generate(["p"], SamplingParams())[0][0].stop_reason is None


def test_wrong_number_of_choices_is_an_error(make_gen, scripted):
    _, script = scripted
    script.replies.append(Reply(body=echo("/completions", {"prompt": "p", "n": 3})))  # one choice is the n=1 fallback
    with pytest.raises(GeneratorError, match="3 choices for n=2"):
        make_gen(model="m").generate(["p"], SamplingParams(n=2))


def test_malformed_answers_are_generator_errors(make_gen, scripted):
    _, script = scripted
    script.replies += [Reply(body="<html>oops</html>"), Reply(body={"choices": [{"index": 0}]})]
    gen = make_gen(model="m")
    with pytest.raises(GeneratorError, match="not JSON"):
        gen.generate(["p"], SamplingParams())
    with pytest.raises(GeneratorError, match="unexpected response"):
        gen.generate(["p"], SamplingParams())


# ---------------------------------------------------------------- concurrency, retries, timeouts


def test_prompts_go_out_concurrently_and_come_back_in_order(make_gen, scripted):
    _, script = scripted
    script.replies += [Reply(delay_s=d) for d in (0.3, 0.0, 0.2, 0.1, 0.0, 0.2)]
    prompts = [f"p{i}" for i in range(6)]
    gen = make_gen(model="m", concurrency=3)
    outputs = gen.generate(prompts, SamplingParams(n=2, max_tokens=3))
    assert [[c.text for c in per] for per in outputs] == [[f"p{i}#0", f"p{i}#1"] for i in range(6)]
    assert len(script.requests) == 6  # one request per prompt, n drawn by the server
    assert script.max_in_flight == 3  # bounded by concurrency, and actually concurrent
    metered = MeteredGenerator(gen)
    metered.generate(prompts[:2], SamplingParams(n=2, max_tokens=3))
    assert (metered.prompt_tokens, metered.generated_tokens) == (2 * 5, 2 * 2 * 3)


def test_server_errors_are_retried_then_succeed(make_gen, scripted):
    _, script = scripted
    script.replies += [Reply(status=500, body={"error": {"message": "boom"}}), Reply(status=429, headers={"retry-after": "0"})]
    [[c]] = make_gen(model="m").generate(["p"], SamplingParams())
    assert c.text == "p#0" and len(script.requests) == 3


def test_persistent_server_errors_give_up_with_the_servers_message(make_gen, scripted):
    _, script = scripted
    script.replies += [Reply(status=503, body={"error": {"message": "overloaded"}})] * 3
    with pytest.raises(GeneratorError, match="overloaded") as info:
        make_gen(model="m", max_retries=2).generate(["p"], SamplingParams())
    assert not isinstance(info.value, BackendUnavailableError) and len(script.requests) == 3


def test_client_errors_are_not_retried(make_gen, scripted):
    _, script = scripted
    script.replies.append(Reply(status=400, body={"error": {"message": "max_tokens is too large"}}))
    with pytest.raises(GeneratorError, match="400: max_tokens is too large"):
        make_gen(model="m").generate(["p"], SamplingParams())
    assert len(script.requests) == 1


def test_slow_answer_times_out_without_retrying(make_gen, scripted):
    _, script = scripted
    script.replies.append(Reply(delay_s=3.0))
    started = time.perf_counter()
    with pytest.raises(GeneratorError, match="did not answer within timeout_s=0.3s"):
        make_gen(model="m", timeout_s=0.3).generate(["p"], SamplingParams())
    assert time.perf_counter() - started < 2.0 and len(script.requests) == 1


def test_nobody_listening_is_backend_unavailable_quickly():
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.perf_counter()
    with pytest.raises(BackendUnavailableError, match=f"no answer from {url}/models after 3 attempts"):
        HTTPGenerator(base_url=url)
    with pytest.raises(BackendUnavailableError, match=f"{url}/completions"):
        HTTPGenerator(base_url=url, model="m", max_retries=0).generate(["p"], SamplingParams())
    assert time.perf_counter() - started < 5.0


def test_empty_batch_sends_nothing(make_gen, scripted):
    _, script = scripted
    assert make_gen(model="m").generate([], SamplingParams()) == [] and script.requests == []


# ---------------------------------------------------------------- a real `vllm serve`


@pytest.fixture(scope="module")
def server(bundled_model_path) -> Iterator[str]:
    pytest.importorskip("vllm")
    with vllm_server(bundled_model_path, "--enable-prompt-tokens-details", "--seed", "0") as running:
        logging.getLogger(__name__).warning("vllm serve started in %.1fs", running.startup_s)
        yield running.base_url


@pytest.fixture(scope="module")
def live(server) -> Iterator[HTTPGenerator]:
    gen = HTTPGenerator(base_url=server)
    yield gen
    gen.close()


def _check_accounting(completions, params: SamplingParams) -> None:
    assert len(completions) == params.n
    for c in completions:
        assert c.prompt_tokens > 0 and 0 < c.generated_tokens <= params.max_tokens
        assert len(c.token_ids) == c.generated_tokens
        if c.finish_reason == "length":
            assert c.generated_tokens == params.max_tokens
        if params.logprobs is not None:
            assert len(c.logprobs) == c.generated_tokens
            assert all(t.logprob <= 0.0 and len(t.top) >= params.logprobs for t in c.logprobs)


@pytest.mark.model
def test_live_completions_with_logprobs(live, bundled_model_path):
    assert live.name == bundled_model_path  # vllm serve names the model by its path
    params = SamplingParams(temperature=0.8, max_tokens=12, n=2, seed=1, logprobs=2)
    [per_prompt] = live.generate(["The capital of France is"], params)
    _check_accounting(per_prompt, params)
    assert all(tops == sorted(tops, reverse=True) for c in per_prompt for tops in ([t.logprob for t in lp.top] for lp in c.logprobs))


@pytest.mark.model
def test_live_chat_with_stop_and_seed(live):
    params = SamplingParams(temperature=0.8, max_tokens=16, n=2, seed=7, stop=("\n", "."), logprobs=1)
    outputs = live.generate([QUESTION, QUESTION.extended("Let me think")], params)
    for per_prompt in outputs:
        _check_accounting(per_prompt, params)
        assert all("\n" not in c.text and "." not in c.text for c in per_prompt)
    alone, again = (live.generate([QUESTION], params)[0] for _ in range(2))
    assert [c.text for c in alone] == [c.text for c in again]  # the per-request seed is honoured
    # vLLM's server says which stop ended a sample: a stop string, or the model's own end
    reasons = [c.stop_reason for per_prompt in outputs for c in per_prompt if c.finish_reason == "stop"]
    assert reasons and set(reasons) <= {"\n", ".", EOS}, reasons
    [[ended]] = live.generate([QUESTION], SamplingParams(temperature=0, max_tokens=200))
    assert ended.finish_reason != "stop" or ended.stop_reason == EOS


LONG_QUESTION = ChatPrompt(
    messages=(ChatMessage(role="user", content=" ".join(f"Box {i} holds {i + 2} apples." for i in range(30)) + " Total?"),)
)
"""Longer than one KV block (vLLM on CPU caches whole 128-token blocks), so a shared prefix can hit the cache."""


@pytest.mark.model
def test_live_prefix_continuation_renders_like_the_local_template(live, server, bundled_model_path):
    from transformers import AutoTokenizer

    prompt = LONG_QUESTION.extended("Step 1: add the boxes.\nStep 2:")
    path, body = live.request(prompt, SamplingParams(temperature=0.0, max_tokens=1))
    answer = httpx.post(server + path, json=body, timeout=60).json()
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path)
    local = tokenizer.apply_chat_template(
        [m.model_dump() for m in prompt.messages], tokenize=False, add_generation_prompt=True
    ) + prompt.assistant_prefix
    assert answer["prompt_token_ids"] == tokenizer(local, add_special_tokens=False)["input_ids"]
    # a child of that node shares the rendered prefix, which the server serves from its prefix cache
    params = SamplingParams(temperature=0.8, max_tokens=8, n=2)
    [per_prompt] = live.generate([prompt.extended(" 5")], params)
    _check_accounting(per_prompt, params)
    assert 128 <= per_prompt[0].cached_prompt_tokens < per_prompt[0].prompt_tokens


@pytest.mark.model
def test_live_completions_mode_sends_the_same_tokens_as_chat_mode(server, bundled_model_path, live):
    params = SamplingParams(temperature=0.0, max_tokens=8)
    prompt = QUESTION.extended("Step 1:")
    with HTTPGenerator(base_url=server, api="completions", tokenizer=bundled_model_path) as gen:
        [[rendered]] = gen.generate([prompt], params)
    [[chat]] = live.generate([prompt], params)
    assert rendered.prompt_tokens == chat.prompt_tokens and rendered.text == chat.text


@pytest.mark.model
def test_live_completions_mode_continues_a_step_from_its_tokens_and_the_server_reuses_them(server, bundled_model_path):
    params = SamplingParams(temperature=0.0, max_tokens=24, stop=("\n\n",))
    with HTTPGenerator(base_url=server, api="completions", tokenizer=bundled_model_path) as gen:
        [[step]] = gen.generate([LONG_QUESTION], params)
        continues = step.prompt_token_ids + step.token_ids
        assert len(step.prompt_token_ids) == step.prompt_tokens > 128
        child = LONG_QUESTION.extended(step.text + ("\n\n" if step.finish_reason == "stop" else ""), continues)
        [[next_step]] = gen.generate([child], params)
    assert next_step.prompt_token_ids[: len(continues) - 1] == continues[:-1]
    assert next_step.cached_prompt_tokens >= (len(continues) - 2) // 128 * 128 >= 128


@pytest.mark.model
def test_live_engine_self_consistency(server):
    with Engine(backend="http", base_url=server) as engine:
        result = engine.solve("What is 2+3?", "self-consistency", n=2, max_tokens=24)
    assert len(result.samples) == 2 and result.compute.model_calls >= 1
    assert result.compute.generated_tokens == sum(s.generated_tokens for s in result.samples) > 0
    assert result.compute.prompt_tokens > 0
    assert all(0 < s.generated_tokens <= 24 for s in result.samples)


@pytest.mark.model
def test_live_deepconf_online_continues_each_trace_through_the_server(live):
    from reason.searchers.deepconf import DeepConf

    searcher = DeepConf(n=5, keep=0.5, window=8, max_tokens=24, mode="online", warmup=2, chunk_tokens=8, seed=0)
    result = searcher.search(Problem(question="What is 3 + 4?"), live)
    trace = result.trace
    assert trace["warmup"] == 2 and trace["voting"] == len(result.samples) >= 1
    assert result.compute.model_calls >= 2 and result.compute.generated_tokens > 0
    assert trace["early_stopped_tokens"] <= result.compute.generated_tokens


def test_a_server_that_refuses_n_gets_n_requests_of_one(make_gen, scripted):
    _, script = scripted
    script.replies.append(Reply(status=400, body={"error": {"message": "n > 1 is not supported", "param": "n"}}))
    gen = make_gen(model="m")
    out = gen.generate(["q"], SamplingParams(n=3, max_tokens=4, seed=10))
    assert [c.text for c in out[0]] == ["q#0", "q#0", "q#0"]
    sent = [body for path, body in script.requests if path == "/completions"]
    assert [b["n"] for b in sent] == [3, 1, 1, 1] and [b["seed"] for b in sent[1:]] == [10, 11, 12]
    gen.generate(["again"], SamplingParams(n=2, max_tokens=4))  # remembered: straight to one at a time
    assert [b["n"] for path, b in script.requests[-2:]] == [1, 1]


def test_a_server_that_ignores_n_gets_the_rest_one_by_one(make_gen, scripted):
    _, script = scripted
    script.replies.append(Reply(body={"choices": [{"index": 0, "text": "only one", "finish_reason": "stop"}],
                                      "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}))
    out = make_gen(model="m").generate(["q"], SamplingParams(n=3, max_tokens=4))
    assert [c.text for c in out[0]] == ["only one", "q#0", "q#0"]
