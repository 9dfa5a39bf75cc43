"""`reason serve`: test-time compute behind an OpenAI-compatible endpoint, streamed while it searches.

`create_app(engine, ServeConfig(...))` builds a FastAPI app:
- `GET /health`, `GET /v1/models` (`reason` = the default strategy, and `reason/<strategy>` for each);
- `POST /v1/chat/completions`, `POST /v1/completions`, and `POST /v1/<strategy>/chat/completions`.
The search is chosen per request, strongest first: the path; `extra_body={"reason": {"strategy": ...,
"params": {...}, "budget": {"tokens": N}}}`; the model name `reason/<strategy>`; else the server's default.
`temperature`, `max_tokens` and `seed` go to the searcher when it takes them. Reasoning models:
`"reason": {"thinking": {"max_thinking_tokens": N, "min_thinking_tokens": M}}` gives the request's calls a
thinking budget (`reason.thinking`; the server's `--max-thinking-tokens` is the default for the others). A bad choice is a 400 in
OpenAI's error shape naming the choices; a budget over `max_budget` or `n` over `max_n` is a 400; a wrong
or missing key (when `api_key` is set) a 401.
The response is a chat completion whose content is the chosen solution's text; `usage` sums every policy
and PRM token of the search; a `reason` object carries the answer, candidates, the compute ledger and a
trace id (`GET /v1/traces/<id>`, the last `trace_store` results) and a link to the trace's explorer page
(`GET /v1/traces/<id>/page`, one offline HTML file: `reason.page`). With `stream=True`, server-sent events
in OpenAI's chunk format: a progress chunk after each model call (empty content, a `reason` field with
calls, samples, tokens and the leading answer), then the content, usage when asked
(`stream_options.include_usage`), and `[DONE]`; a client that disconnects cancels its search before
the next model call.
Concurrent requests' model calls are merged into shared backend batches (`Engine.shared_generator`, the
micro-batcher `reason bench` uses); past `max_queue` requests at once, one more is a 429. Leaves out:
falling back to n requests for servers that refuse `n>1`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import Field

from reason.api import Engine, make_searcher
from reason.budget import Budget
from reason.errors import ConfigError, ReasonError
from reason.registry import registry
from reason.searcher import Searcher
from reason.tasks import task_style
from reason.thinking import ThinkingOptions, with_thinking
from reason.types import Frozen, Problem, SearchResult
from reason.watch import SearchCancelled, SearchProgress, WatchedGenerator

logger = logging.getLogger(__name__)
SAMPLING_FIELDS = ("temperature", "max_tokens", "seed")


class ServeConfig(Frozen):
    strategy: str = "cot"
    """The strategy a request gets when it names none."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The default strategy's parameters."""
    task: str = "gsm8k"
    max_budget: int | None = None
    """Most policy tokens one request may ask for (`reason.budget.tokens`); None: no cap."""
    max_n: int = 64
    """Largest `n` a request may ask of a searcher."""
    api_key: str | None = None
    trace_store: int = 256
    max_queue: int = Field(default=64, ge=1)
    """Requests searching at once; one more is answered 429 (the client retries later)."""
    batch_window_s: float = Field(default=0.05, ge=0)
    """How long a model call waits for other requests' calls to share its batch (clients arrive spread out)."""


class RequestError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.kind = status, message, param, kind

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": None}}
        return JSONResponse(body, status_code=self.status)


def create_app(engine: Engine, config: ServeConfig | None = None) -> FastAPI:
    config = config or ServeConfig()
    make_searcher(config.strategy, **config.params)  # a bad default fails at start, not per request
    engine.batch_window_s = config.batch_window_s
    app = FastAPI(title="reason", docs_url=None, redoc_url=None)
    traces: OrderedDict[str, dict] = OrderedDict()
    lock = threading.Lock()
    busy = {"requests": 0}
    searches = ThreadPoolExecutor(max_workers=config.max_queue, thread_name_prefix="reason-serve")
    """One thread per admitted request (asyncio's default pool has cpu+4: fewer searches would share a batch)."""

    def in_thread(fn: Any, *args: Any) -> asyncio.Future:
        return asyncio.get_running_loop().run_in_executor(searches, fn, *args)

    def remember(trace_id: str, result: SearchResult) -> None:
        with lock:
            traces[trace_id] = result.model_dump(mode="json")
            while len(traces) > config.trace_store:
                traces.popitem(last=False)

    @app.middleware("http")
    async def check_key(request: Request, call_next: Any) -> Any:
        if config.api_key and request.url.path.startswith("/v1/"):
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given, f"Bearer {config.api_key}"):
                return RequestError(401, "invalid API key", kind="authentication_error").response()
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict:
        names = ["reason", *(f"reason/{name}" for name in registry.names("searcher"))]
        return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "reason"} for n in names]}

    def stored(trace_id: str, show: Any) -> Any:
        with lock:
            found = traces.get(trace_id)
        if found is None:
            return RequestError(404, f"no trace {trace_id!r} (the server keeps the last {config.trace_store})",
                                kind="not_found_error").response()
        return show(found)

    @app.get("/v1/traces/{trace_id}")
    async def trace(trace_id: str) -> Any:
        return stored(trace_id, lambda found: found)

    @app.get("/v1/traces/{trace_id}/page")
    async def trace_page(trace_id: str) -> Any:
        return stored(trace_id, lambda found: HTMLResponse(SearchResult.model_validate(found).to_html()))

    async def complete(request: Request, path_strategy: str | None, chat: bool) -> Any:
        try:
            body = await request.json()
            job = _Job.from_request(body, path_strategy, chat, config)
        except RequestError as exc:
            return exc.response()
        except (ValueError, json.JSONDecodeError) as exc:
            return RequestError(400, f"the request body is not valid JSON: {exc}").response()
        if busy["requests"] >= config.max_queue:
            return RequestError(429, f"the server is searching for {config.max_queue} requests already; retry later",
                                kind="rate_limit_error").response()
        busy["requests"] += 1  # the event loop is one thread: no lock needed
        if job.stream:
            done = lambda: busy.__setitem__("requests", busy["requests"] - 1)  # noqa: E731
            stream = _stream(job, engine, request, remember, done, in_thread)
            return StreamingResponse(stream, media_type="text/event-stream")
        try:
            result = await in_thread(job.run, engine, lambda progress: None, lambda: False)
        except RequestError as exc:
            return exc.response()
        finally:
            busy["requests"] -= 1
        remember(job.trace_id, result)
        return job.response(result)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        return await complete(request, None, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        return await complete(request, None, chat=False)

    @app.post("/v1/{strategy}/chat/completions")
    async def strategy_chat(strategy: str, request: Request) -> Any:
        return await complete(request, strategy, chat=True)

    return app


class _Job:
    """One request, read and checked: what to solve, with which searcher, and how to answer."""

    def __init__(self, question: str, strategy: str, searcher: Searcher, model: str, chat: bool, stream: bool,
                 include_usage: bool, task: str) -> None:
        self.question, self.strategy, self.searcher, self.model = question, strategy, searcher, model
        self.chat, self.stream, self.include_usage, self.task = chat, stream, include_usage, task
        self.trace_id = secrets.token_hex(8)
        self.created = int(time.time())

    @classmethod
    def from_request(cls, body: Any, path_strategy: str | None, chat: bool, config: ServeConfig) -> _Job:
        if not isinstance(body, dict):
            raise RequestError(400, "the request body must be a JSON object")
        question = _question(body, chat)
        extra = body.get("reason") or {}
        if not isinstance(extra, dict):
            raise RequestError(400, "'reason' must be an object", param="reason")
        model = str(body.get("model") or "reason")
        named = model.removeprefix("reason/") if model.startswith("reason/") else None
        strategy = path_strategy or extra.get("strategy") or named or config.strategy
        if strategy not in registry.names("searcher"):
            raise RequestError(400, f"unknown strategy {strategy!r}; strategies: {', '.join(registry.names('searcher'))}",
                               param="strategy")
        params = dict(config.params) if strategy == config.strategy else {}
        params |= _params(extra, body, strategy, config)
        try:
            searcher = make_searcher(strategy, **params)
        except ReasonError as exc:
            raise RequestError(400, str(exc), param="reason.params") from None
        searcher = with_thinking(searcher, _thinking(extra))
        task = str(extra.get("task") or config.task)
        try:
            task_style(task)
        except ReasonError as exc:
            raise RequestError(400, str(exc), param="reason.task") from None
        options = body.get("stream_options") or {}
        return cls(question, strategy, searcher, model, chat, bool(body.get("stream")),
                   bool(options.get("include_usage")), task)

    def run(self, engine: Engine, on_call: Any, cancelled: Any) -> SearchResult:
        watched = WatchedGenerator(engine.shared_generator, self.task, on_call, cancelled)
        try:
            return self.searcher.search(Problem(question=self.question, task=self.task), watched)
        except SearchCancelled:
            raise
        except ReasonError as exc:
            raise RequestError(500, f"the search failed: {exc}", kind="server_error") from None

    def response(self, result: SearchResult) -> dict:
        text = result.reasoning
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"} if self.chat
                  else {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None})
        return {"id": f"chatcmpl-{self.trace_id}", "object": "chat.completion" if self.chat else "text_completion",
                "created": self.created, "model": self.model, "choices": [choice], "usage": _usage(result),
                "reason": _reason_field(result, self.trace_id)}

    def chunk(self, delta: dict, finish: str | None = None, **extra: Any) -> str:
        body = {"id": f"chatcmpl-{self.trace_id}", "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body)}\n\n"


def _thinking(extra: dict[str, Any]) -> ThinkingOptions | None:
    """`reason.thinking`: a thinking budget for this request's calls (over the server's own, if any)."""
    given = extra.get("thinking")
    if given is None:
        return None
    if not isinstance(given, dict):
        raise RequestError(400, "'reason.thinking' must be an object", param="reason.thinking")
    try:
        return ThinkingOptions(**given)
    except (ReasonError, TypeError) as exc:
        raise RequestError(400, f"invalid reason.thinking: {exc}", param="reason.thinking") from None


def _question(body: dict, chat: bool) -> str:
    if not chat:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise RequestError(400, "'prompt' must be a non-empty string", param="prompt")
        return prompt.strip()
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "'messages' must be a non-empty list", param="messages")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise RequestError(400, "no user message to answer", param="messages")
    content = users[-1].get("content")
    if isinstance(content, list):  # content parts: the text ones
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str) or not content.strip():
        raise RequestError(400, "the last user message is empty", param="messages")
    return content.strip()


def _params(extra: dict, body: dict, strategy: str, config: ServeConfig) -> dict:
    params = dict(extra.get("params") or {})
    fields = getattr(registry.get("searcher", strategy), "model_fields", {})
    for name in SAMPLING_FIELDS:
        if body.get(name) is not None and name in fields:
            params.setdefault(name, body[name])
    if isinstance(params.get("n"), int) and params["n"] > config.max_n:
        raise RequestError(400, f"n={params['n']} is over the server's --max-n {config.max_n}", param="n")
    budget = extra.get("budget")
    if budget is not None:
        try:
            params["budget"] = Budget(**budget)
        except (TypeError, ConfigError) as exc:
            raise RequestError(400, f"invalid reason.budget: {exc}", param="reason.budget") from None
    tokens = getattr(params.get("budget"), "tokens", None)
    if config.max_budget is not None and (tokens is None or tokens > config.max_budget):
        raise RequestError(400, f"reason.budget.tokens must be at most the server's --max-budget {config.max_budget}",
                           param="reason.budget")
    return params


def _usage(result: SearchResult) -> dict:
    spent = result.compute
    prompt = spent.prompt_tokens + spent.prm_prompt_tokens
    completion = spent.generated_tokens + spent.prm_generated_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _reason_field(result: SearchResult, trace_id: str) -> dict:
    return {"answer": result.answer, "strategy": result.strategy, "trace_id": trace_id,
            "trace_page": f"/v1/traces/{trace_id}/page",
            "candidates": [{"answer": c.answer, "votes": c.votes, "score": c.score} for c in result.candidates],
            "compute": result.compute.model_dump(mode="json")}


async def _stream(job: _Job, engine: Engine, request: Request, remember: Any, done: Any,
                  in_thread: Any) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()
    gone = threading.Event()

    def on_call(progress: SearchProgress) -> None:
        loop.call_soon_threadsafe(events.put_nowait, progress)

    work = in_thread(job.run, engine, on_call, gone.is_set)
    work.add_done_callback(lambda done: done.cancelled() or done.exception())  # a cancelled search's error is expected
    try:
        async for chunk in _chunks(job, work, events, request, remember):
            yield chunk
    finally:  # the client went away (the server cancels this generator) or the search ended
        done()
        if not work.done():
            gone.set()
            logger.info("client went away: search %s cancelled before its next model call", job.trace_id)


async def _chunks(job: _Job, work: asyncio.Future, events: asyncio.Queue, request: Request,
                  remember: Any) -> AsyncIterator[str]:
    yield job.chunk({"role": "assistant", "content": ""}, reason={"status": "searching", "strategy": job.strategy})
    while not work.done() or not events.empty():
        if await request.is_disconnected():
            return
        try:
            progress = await asyncio.wait_for(events.get(), timeout=0.1)
        except TimeoutError:
            continue
        yield job.chunk({"content": ""}, reason={"calls": progress.calls, "samples": progress.samples,
                                                 "tokens": progress.tokens, "leader": progress.leader,
                                                 "leader_votes": progress.leader_votes})
    try:
        result = work.result()
    except (RequestError, SearchCancelled) as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n"
        return
    remember(job.trace_id, result)
    yield job.chunk({"content": result.reasoning}, reason=_reason_field(result, job.trace_id))
    yield job.chunk({}, finish="stop")
    if job.include_usage:
        body = {"id": f"chatcmpl-{job.trace_id}", "object": "chat.completion.chunk", "created": job.created,
                "model": job.model, "choices": [], "usage": _usage(result)}
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"
