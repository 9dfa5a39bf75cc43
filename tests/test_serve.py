"""`reason serve` through the official `openai` client against the real server on 127.0.0.1 (uvicorn in a
thread), with a scripted generator for speed: plain and streamed chat completions, the three ways to pick
a search, OpenAI-shaped errors, the API key, traces, concurrent clients, and a disconnect that cancels.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

openai = pytest.importorskip("openai")
uvicorn = pytest.importorskip("uvicorn")

from reason.api import Engine
from reason.serve import ServeConfig, create_app
from reason.testing import FakeGenerator

KEY = "sk-test-reason"


def _answer(prompt, params):
    """The sum of the question's last two numbers: each client's answer is its own."""
    numbers = [int(t) for t in prompt.replace("?", " ").replace("(", " ").split() if t.isdigit()]
    a, b = numbers[-2:] if len(numbers) >= 2 else (3, 4)
    return f"{a} + {b} = {a + b}.\nThe answer is {a + b}."


class Server:
    def __init__(self, config: ServeConfig, script=_answer, engine: Engine | None = None) -> None:
        self.engine = engine or Engine(generator=FakeGenerator(script))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.engine, config), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def client(self, key: str = KEY):
        return openai.OpenAI(base_url=self.url, api_key=key, max_retries=0)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def server():
    running = Server(ServeConfig(strategy="cot", api_key=KEY, max_n=8, max_budget=5000))
    yield running
    running.stop()


def ask(client, **extra):
    return client.chat.completions.create(model=extra.pop("model", "reason"),
                                          messages=[{"role": "user", "content": "What is 3 + 4?"}], **extra)


def test_a_plain_chat_completion(server):
    response = ask(server.client(), extra_body={"reason": {"budget": {"tokens": 3000}}})
    assert response.choices[0].message.content == "3 + 4 = 7.\nThe answer is 7."
    reason = response.model_extra["reason"]
    assert reason["answer"] == "7" and reason["strategy"] == "cot" and reason["candidates"][0]["votes"] == 1
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens > 0
    trace = httpx.get(f"{server.url}/traces/{reason['trace_id']}", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert trace["answer"] == "7" and trace["strategy"] == "cot"


@pytest.mark.parametrize("how", ["extra_body", "model", "path"])
def test_three_ways_to_pick_the_search(server, how):
    params = {"n": 3, "temperature": 0.7}
    budget = {"budget": {"tokens": 3000}}
    if how == "extra_body":
        response = ask(server.client(), extra_body={"reason": {"strategy": "self-consistency", "params": params, **budget}})
    elif how == "model":
        response = ask(server.client(), model="reason/self-consistency", extra_body={"reason": {"params": params, **budget}})
    else:
        client = openai.OpenAI(base_url=f"{server.url}/self-consistency", api_key=KEY, max_retries=0)
        response = ask(client, extra_body={"reason": {"params": params, **budget}})
    reason = response.model_extra["reason"]
    assert reason["strategy"] == "self-consistency" and reason["candidates"] == [{"answer": "7", "votes": 3, "score": None}]


def test_models_lists_every_strategy(server):
    names = [m.id for m in server.client().models.list()]
    assert "reason" in names and "reason/beam" in names and "reason/self-consistency" in names


def test_errors_have_openais_shape(server):
    client = server.client()
    with pytest.raises(openai.BadRequestError) as unknown:
        ask(client, extra_body={"reason": {"strategy": "nope", "budget": {"tokens": 3000}}})
    assert "unknown strategy 'nope'; strategies:" in unknown.value.body["message"] and "beam" in unknown.value.body["message"]
    with pytest.raises(openai.BadRequestError) as too_many:
        ask(client, extra_body={"reason": {"strategy": "self-consistency", "params": {"n": 99}, "budget": {"tokens": 3000}}})
    assert "--max-n" in too_many.value.body["message"]
    with pytest.raises(openai.BadRequestError) as over_budget:
        ask(client, extra_body={"reason": {"budget": {"tokens": 10**6}}})
    assert "--max-budget" in over_budget.value.body["message"]
    with pytest.raises(openai.BadRequestError) as bad_param:
        ask(client, extra_body={"reason": {"params": {"width": 2}, "budget": {"tokens": 3000}}})
    assert "takes no parameter 'width'" in bad_param.value.body["message"]
    with pytest.raises(openai.AuthenticationError):
        ask(server.client(key="wrong"), extra_body={"reason": {"budget": {"tokens": 3000}}})
    with pytest.raises(openai.BadRequestError) as bad_task:  # refused up front, not a 500 mid-search
        ask(client, extra_body={"reason": {"task": "poetry", "budget": {"tokens": 3000}}})
    assert bad_task.value.body["param"] == "reason.task" and "poetry" in bad_task.value.body["message"]
    with pytest.raises(openai.BadRequestError) as bad_thinking:
        ask(client, extra_body={"reason": {"thinking": {"max_thinking_tokens": 5, "min_thinking_tokens": 9},
                                           "budget": {"tokens": 3000}}})
    assert bad_thinking.value.body["param"] == "reason.thinking" and "is over" in bad_thinking.value.body["message"]


def _reasoner(prompt, params):
    """A reasoning model: 20 words of thought (a decoy answer first) and a closed span; after it, the sum."""
    if "</think>" in prompt.rsplit("assistant:", 1)[-1]:
        return _answer(prompt.rsplit("assistant:", 1)[0], params)  # the question, not the thought
    return " ".join(["the", "answer", "is", "1"] + ["hmm"] * 16) + " </think>"


def test_a_request_s_thinking_budget_caps_the_span_and_keeps_it_out_of_the_answer():
    running = Server(ServeConfig(strategy="cot"), script=_reasoner)
    try:
        response = ask(running.client(), extra_body={"reason": {"thinking": {"max_thinking_tokens": 6}}})
        assert response.choices[0].message.content == "3 + 4 = 7.\nThe answer is 7."
        reason = response.model_extra["reason"]
        assert reason["answer"] == "7" and reason["compute"]["thinking_tokens"] == 6
        plain = ask(running.client())  # no budget: the span is the text, and its decoy the answer
        assert plain.model_extra["reason"]["answer"] == "1"
    finally:
        running.stop()


def test_streaming_sends_progress_before_the_answer_and_the_same_text(server):
    stream = ask(server.client(), stream=True, stream_options={"include_usage": True},
                 extra_body={"reason": {"strategy": "self-consistency", "params": {"n": 2}, "budget": {"tokens": 3000}}})
    chunks = list(stream)
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    progress = [c.model_extra["reason"] for c in chunks if c.model_extra.get("reason", {}).get("calls")]
    assert texts == ["3 + 4 = 7.\nThe answer is 7."]
    assert progress and progress[0]["samples"] >= 1 and progress[-1]["leader"] == "7"
    first_content = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    assert first_content > 0  # progress chunks came first
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_sixteen_concurrent_clients_each_get_their_own_answer(server):
    def one(i: int) -> tuple[str, str | None]:
        response = server.client().chat.completions.create(
            model="reason", messages=[{"role": "user", "content": f"Client {i}: what is {i} + 100?"}],
            extra_body={"reason": {"budget": {"tokens": 3000}}})
        return response.model_extra["reason"]["trace_id"], response.model_extra["reason"]["answer"]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(16)))
    assert len({trace for trace, _ in answers}) == 16
    assert [answer for _, answer in answers] == [str(i + 100) for i in range(16)]  # nothing lost or mixed up


def test_a_client_that_disconnects_cancels_its_search():
    calls: list[float] = []

    def slow(prompt, params):
        calls.append(time.monotonic())
        time.sleep(0.3)
        return "Step.\n\n"

    server = Server(ServeConfig(), script=slow)
    try:
        body = {"model": "reason/beam", "messages": [{"role": "user", "content": "What is 3 + 4?"}], "stream": True,
                "reason": {"params": {"n": 1, "width": 1, "max_steps": 30, "prm": "fake"}}}
        with httpx.stream("POST", f"{server.url}/chat/completions", json=body, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("data:") and json.loads(line[5:]).get("reason", {}).get("calls", 0) >= 2:
                    break  # leave mid-search
        left = len(calls)
        time.sleep(2)
        assert len(calls) <= left + 1  # at most the call already running when the client left
    finally:
        server.stop()


def test_past_the_queue_a_request_is_a_429():
    release = threading.Event()

    def held(prompt, params):
        release.wait(10)
        return "The answer is 7."

    server = Server(ServeConfig(max_queue=1), script=held)
    try:
        first = threading.Thread(target=lambda: ask(server.client()))
        first.start()
        time.sleep(0.5)
        with pytest.raises(openai.RateLimitError):
            ask(server.client())
        release.set()
        first.join(timeout=10)
        assert ask(server.client()).model_extra["reason"]["answer"] == "7"  # room again
    finally:
        release.set()
        server.stop()


@pytest.mark.model
def test_the_bundled_model_behind_the_server_streams_the_same_text_as_plain(vllm_generator):
    """Once with the real default backend: vLLM on this CPU, greedy, the same text streamed and plain."""
    engine = Engine(generator=vllm_generator)
    server = Server(ServeConfig(), engine=engine)
    try:
        options = {"temperature": 0.0, "max_tokens": 24, "seed": 3}
        plain = ask(server.client(), **options)
        chunks = list(ask(server.client(), stream=True, **options))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed == plain.choices[0].message.content and plain.usage.completion_tokens > 0
        assert any(c.model_extra.get("reason", {}).get("calls") for c in chunks)
    finally:
        server.stop()
        engine.shared_generator.shutdown()  # type: ignore[attr-defined]  # the session's generator stays open


def test_a_stopping_server_finishes_the_requests_it_has():
    def slow(prompt, params):
        time.sleep(1.0)
        return "The answer is 7."

    server = Server(ServeConfig(), script=slow)
    got: list = []
    asking = threading.Thread(target=lambda: got.append(ask(server.client())))
    asking.start()
    time.sleep(0.3)
    server.stop()  # what Ctrl-C or SIGTERM does to uvicorn: no new connections, in-flight ones finish
    asking.join(timeout=10)
    assert got and got[0].model_extra["reason"]["answer"] == "7"
