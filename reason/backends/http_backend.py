"""An OpenAI-compatible HTTP server as a generator: `vllm serve`, SGLang or llama.cpp's server.

What each mode sends (`api`):
- "chat" (default): a `str` prompt goes to `/completions` as raw text; a `ChatPrompt` goes to
  `/chat/completions` and the server applies the model's chat template. A non-empty
  `assistant_prefix` is sent as a final assistant message with vLLM's extension
  `continue_final_message: true, add_generation_prompt: false`, so the model continues the
  prefix verbatim (SGLang accepts the same fields; llama.cpp continues a final assistant
  message by itself). The prefix is sent unchanged, so children of one search node share
  their rendered prompt and the server's prefix cache serves it.
- "completions": everything goes to `/completions`. A `ChatPrompt` is rendered here with the
  chat template of a local tokenizer (`tokenizer=`, a HF folder or name; a tokenizer without a
  template gets the plain "role: content" transcript, as in the vLLM backend); without a
  tokenizer a `ChatPrompt` is a `ConfigError`. Use it for servers that lack a chat endpoint or prefill.
  A `ChatPrompt` that `continues` this model's tokens goes as token ids, so the server's prefix
  cache sees exactly the tokens it computed (chat mode sends text: the chat API takes no ids).

Each prompt is one request with the server's own `n`; prompts go out concurrently (a thread
pool of `concurrency` workers). Connection errors, 5xx and 429 are retried with exponential
back-off; a request that outlives `timeout_s` is not retried (it would repeat the slow work).
Token accounting: a choice's `generated_tokens` is the length of its token ids (asked for with
vLLM's `return_token_ids`) or of its logprobs; only when a server returns neither is the
request's `usage.completion_tokens` (the total over all `n` choices) split evenly, with a warning.
Leaves out: streaming, tool calls, multimodal content, and auth other than a bearer key.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import ConfigDict, Field

from reason.continuation import chat_prompt_ids
from reason.errors import BackendUnavailableError, ConfigError, GeneratorError
from reason.generator import render_transcript, vllm_stop_reason
from reason.types import (
    ChatPrompt,
    Completion,
    Prompt,
    SamplingParams,
    TokenLogprob,
    TopLogprob,
    Validated,
)

logger = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class HTTPConfig(Validated):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = "http://127.0.0.1:8000/v1"
    """The server's OpenAI API root, `/v1` included."""
    model: str | None = None
    """Model id the server knows; None asks the server's `/models` and takes the first."""
    api: Literal["chat", "completions"] = "chat"
    """Where a `ChatPrompt` goes (see the module docstring); a `str` always goes to `/completions`."""
    tokenizer: str | None = None
    """Local tokenizer whose chat template renders a `ChatPrompt` in api="completions" mode."""
    api_key: str | None = Field(default=None, repr=False)
    """Sent as a bearer token when set."""
    timeout_s: float = Field(default=300.0, gt=0)
    """Most seconds one request may take (the whole generation, not a token)."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    """Retries after the first attempt, on connection errors, 5xx and 429."""
    backoff_s: float = Field(default=0.5, ge=0)
    """First retry delay; doubled per retry (with jitter), capped by `max_backoff_s`."""
    max_backoff_s: float = Field(default=8.0, ge=0)
    concurrency: int = Field(default=8, ge=1)
    """Requests in flight at once, across all calls on this generator."""
    return_token_ids: bool = True
    """Ask for token ids (vLLM >= 0.10.2); turn off for servers that reject unknown fields."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Merged into every request body (e.g. {"top_k": 20} or a server's own options)."""


class HTTPGenerator:
    """Samples from a remote OpenAI-compatible server; keep one per server and reuse it.

    Example:
        >>> gen = HTTPGenerator(base_url="http://127.0.0.1:8000/v1")      # doctest: +SKIP
        >>> gen.generate(["2+2="], SamplingParams(max_tokens=4, n=2))     # doctest: +SKIP
    """

    options_model = HTTPConfig
    """What its keyword options are checked against (the CLI checks them before connecting)."""

    supports_logprobs = True
    supports_prefix_cache = True
    """vLLM and SGLang cache prefixes by default, llama.cpp per slot; the client cannot check it."""
    supports_request_seed = True

    def __init__(self, config: HTTPConfig | None = None, **overrides: Any) -> None:
        self._one_choice_only = False
        base = config or HTTPConfig()
        self.config = HTTPConfig(**{**base.model_dump(), **overrides}) if overrides else base
        self._base_url = self.config.base_url.rstrip("/")
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {},
            timeout=httpx.Timeout(self.config.timeout_s, connect=self.config.connect_timeout_s),
            limits=httpx.Limits(max_connections=self.config.concurrency),
        )
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="reason-http")
        self._warned_split = threading.Event()
        try:
            self._template = _load_template(self.config.tokenizer) if self.config.tokenizer else None
            self.name = self.config.model or self._first_model()
        except BaseException:
            self.close()
            raise

    def _first_model(self) -> str:
        listing = self._call("GET", "/models")
        models = listing.get("data") or []
        if not models or "id" not in models[0]:
            raise BackendUnavailableError(f"the server at {self._base_url} lists no models")
        return str(models[0]["id"])

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        requests = [self.request(p, params) for p in prompts]  # bad prompts fail before any traffic
        futures = [self._pool.submit(self._complete, path, body, params.n) for path, body in requests]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def request(self, prompt: Prompt, params: SamplingParams) -> tuple[str, dict[str, Any]]:
        """The endpoint path and JSON body sent for one prompt."""
        if isinstance(prompt, str):
            return "/completions", {"prompt": prompt, **self._sampling(params, chat=False)}
        if self.config.api == "completions":
            return "/completions", {"prompt": self._completions_prompt(prompt), **self._sampling(params, chat=False)}
        body: dict[str, Any] = {"messages": [m.model_dump() for m in prompt.messages]}
        if prompt.assistant_prefix:
            body["messages"].append({"role": "assistant", "content": prompt.assistant_prefix})
            body.update(continue_final_message=True, add_generation_prompt=False)
        return "/chat/completions", {**body, **self._sampling(params, chat=True)}

    def render(self, prompt: Prompt) -> str:
        """The prompt as text, rendered with the local tokenizer's chat template (api="completions")."""
        if isinstance(prompt, str):
            return prompt
        if self._template is None:
            raise ConfigError(
                "a ChatPrompt needs a chat template: use api='chat' (the server renders it) "
                "or give tokenizer=<local HF folder or name> to render it here"
            )
        if not getattr(self._template, "chat_template", None):  # base models: as the vLLM backend does
            return render_transcript(prompt)
        messages = [m.model_dump() for m in prompt.messages]
        text = self._template.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + prompt.assistant_prefix

    def _completions_prompt(self, prompt: ChatPrompt) -> str | list[int]:
        """Rendered text, or token ids when the prompt continues this model's tokens (`ChatPrompt.continues`)."""
        ids = chat_prompt_ids(self._template, self.render, prompt) if self._template is not None else None
        if ids is not None:
            return ids
        return self.render(prompt)

    def _sampling(self, params: SamplingParams, chat: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.name,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "n": params.n,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.logprobs is not None:
            body.update({"logprobs": True, "top_logprobs": params.logprobs} if chat else {"logprobs": params.logprobs})
        if self.config.return_token_ids:
            body["return_token_ids"] = True
        return {**body, **self.config.extra_body}

    def _complete(self, path: str, body: dict[str, Any], n: int) -> list[Completion]:
        if n > 1 and self._one_choice_only:
            return self._one_at_a_time(path, body, n)
        try:
            completions = self._parsed(path, self._call("POST", path, body))
        except GeneratorError as exc:
            if n > 1 and _refuses_n(str(exc)):  # e.g. SGLang or a proxy that takes n=1 only: n requests instead
                logger.info("%s refuses n=%d (%s); sending n requests of one from now on", self._base_url, n, exc)
                self._one_choice_only = True
                return self._one_at_a_time(path, body, n)
            raise
        if len(completions) == 1 and n > 1:  # a server that ignores n: ask for the rest one by one
            logger.info("%s answered n=%d with one choice; sending n requests of one from now on", self._base_url, n)
            self._one_choice_only = True
            return completions + self._one_at_a_time(path, body, n - 1, first_seed_offset=1)
        if len(completions) != n:
            raise GeneratorError(f"{self._base_url}{path} returned {len(completions)} choices for n={n}")
        return completions

    def _one_at_a_time(self, path: str, body: dict[str, Any], count: int, first_seed_offset: int = 0) -> list[Completion]:
        """`count` requests of n=1 (a seed, when set, moves on by one per request so the samples differ)."""
        found: list[Completion] = []
        for i in range(count):
            single = {**body, "n": 1}
            if body.get("seed") is not None:
                single["seed"] = body["seed"] + first_seed_offset + i
            found += self._parsed(path, self._call("POST", path, single))
        return found

    def _parsed(self, path: str, response: Any) -> list[Completion]:
        try:
            return self._parse(response, chat=path == "/chat/completions")
        except (KeyError, TypeError, ValueError) as exc:
            raise GeneratorError(f"unexpected response from {self._base_url}{path}: {exc!r}") from exc

    def _parse(self, response: dict[str, Any], chat: bool) -> list[Completion]:
        usage = response.get("usage") or {}
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        choices = sorted(response["choices"], key=lambda c: c.get("index", 0))
        parsed = [_choice(c, chat) for c in choices]
        counts = self._generated_counts(parsed, usage)
        return [
            c.completion.model_copy(
                update=dict(
                    prompt_tokens=int(usage.get("prompt_tokens") or 0),
                    prompt_token_ids=tuple(c.prompt_ids or response.get("prompt_token_ids") or ()),
                    generated_tokens=count,
                    cached_prompt_tokens=int(cached),
                )
            )
            for c, count in zip(parsed, counts)
        ]

    def _generated_counts(self, parsed: list[_Choice], usage: dict[str, Any]) -> list[int]:
        """Per-choice token counts: exact from ids or logprobs, else usage split over the choices."""
        exact = [c.exact_tokens for c in parsed]
        if all(n is not None for n in exact):
            return [n for n in exact if n is not None]
        total, k = int(usage.get("completion_tokens") or 0), len(parsed)
        if k > 1 and not self._warned_split.is_set():
            self._warned_split.set()
            logger.warning(
                "%s returns neither token ids nor logprobs; splitting usage.completion_tokens evenly "
                "over the n=%d choices, so per-sample token counts are estimates",
                self._base_url,
                k,
            )
        return [total // k + (1 if i < total % k else 0) for i in range(k)]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One API call with retries; returns the decoded JSON or raises a typed error."""
        url, retries = self._base_url + path, self.config.max_retries
        for attempt in range(retries + 1):
            attempted = self._attempt(method, url, body)
            if not isinstance(attempted, _Retryable):
                return attempted
            outcome = attempted
            if attempt < retries:
                delay = self._backoff(attempt, outcome.retry_after)
                logger.warning("%s failed (%s); retry %d/%d in %.2fs", url, outcome.reason, attempt + 1, retries, delay)
                time.sleep(delay)
        if outcome.reached_server:
            raise GeneratorError(f"{url} kept failing after {retries} retries: {outcome.reason}")
        raise BackendUnavailableError(
            f"no answer from {url} after {retries + 1} attempts ({outcome.reason}); is the server running?"
        )

    def _attempt(self, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any] | _Retryable:
        """One request: the JSON answer, a failure worth retrying, or a raised final error."""
        try:
            response = self._client.request(method, url, json=body)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return _Retryable(f"{type(exc).__name__}: {exc}", reached_server=False)
        except httpx.TimeoutException as exc:  # the server took the request but is too slow: not retried
            raise GeneratorError(f"{url} did not answer within timeout_s={self.config.timeout_s:g}s") from exc
        except httpx.TransportError as exc:
            return _Retryable(f"{type(exc).__name__}: {exc}", reached_server=False)
        if response.status_code < 400:
            return _json(response, url)
        message = f"HTTP {response.status_code}: {_error_text(response)}"
        if response.status_code not in _RETRY_STATUS:
            raise GeneratorError(f"{url} answered {message}")
        return _Retryable(message, reached_server=True, retry_after=_retry_after(response))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:  # the server said when; still bounded by our own cap
            return min(retry_after, self.config.max_backoff_s)
        delay = min(self.config.backoff_s * 2**attempt, self.config.max_backoff_s)
        return delay * random.uniform(0.5, 1.0)  # jitter: concurrent retries do not arrive together

    def close(self) -> None:
        """Stop the worker threads and the connection pool; the object is unusable afterwards."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> HTTPGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Retryable:
    reason: str
    reached_server: bool
    """False for connection failures: then the server counts as unavailable."""
    retry_after: float | None = None


@dataclass(frozen=True)
class _Choice:
    completion: Completion
    """Text, ids, logprobs and finish reason; token counts are filled in from the whole response."""
    exact_tokens: int | None
    """Generated tokens when the choice itself shows them (token ids or logprobs), else None."""
    prompt_ids: list[int] | None
    """The prompt's ids when the choice carries them (vLLM's completions; its chat puts them on the response)."""


def _choice(choice: dict[str, Any], chat: bool) -> _Choice:
    text = (choice["message"].get("content") or "") if chat else choice["text"]
    raw = choice.get("logprobs")
    logprobs = None if raw is None else (_chat_logprobs(raw) if chat else _completion_logprobs(raw))
    ids = choice.get("token_ids")
    exact = len(ids) if ids is not None else (len(logprobs) if logprobs is not None else None)
    completion = Completion(
        text=text,
        token_ids=tuple(ids or ()),
        logprobs=logprobs,
        finish_reason=choice.get("finish_reason") or "stop",
        stop_reason=_stop_reason(choice),
    )
    return _Choice(completion, exact, choice.get("prompt_token_ids"))


def _stop_reason(choice: dict[str, Any]) -> str | None:
    """vLLM-style servers add `stop_reason` (null on EOS); plain OpenAI servers say nothing: unknown."""
    if "stop_reason" not in choice:
        return None
    return vllm_stop_reason(choice.get("finish_reason"), choice["stop_reason"])


def _chat_logprobs(raw: dict[str, Any]) -> tuple[TokenLogprob, ...]:
    """Chat format: {"content": [{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}]}."""
    return tuple(
        TokenLogprob(
            token=entry["token"],
            logprob=entry["logprob"],
            top=tuple(TopLogprob(token=t["token"], logprob=t["logprob"]) for t in entry.get("top_logprobs") or ()),
        )
        for entry in raw.get("content") or ()
    )


def _completion_logprobs(raw: dict[str, Any]) -> tuple[TokenLogprob, ...]:
    """Legacy format: parallel lists "tokens", "token_logprobs", "top_logprobs" (dicts token -> logprob)."""
    tops = raw.get("top_logprobs") or [None] * len(raw["tokens"])
    return tuple(
        TokenLogprob(
            token=token,
            logprob=logprob if logprob is not None else float("-inf"),
            top=tuple(TopLogprob(token=t, logprob=lp) for t, lp in sorted((top or {}).items(), key=lambda kv: -kv[1])),
        )
        for token, logprob, top in zip(raw["tokens"], raw["token_logprobs"], tops)
    )


def _json(response: httpx.Response, url: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise GeneratorError(f"{url} answered with something that is not JSON: {response.text[:200]!r}") from exc
    if not isinstance(data, dict):
        raise GeneratorError(f"{url} answered with JSON that is not an object: {str(data)[:200]}")
    return data


def _error_text(response: httpx.Response) -> str:
    """The server's own error message when it sends the OpenAI error shape, else the body's start."""
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:500]
    except (ValueError, AttributeError):
        pass
    return response.text[:500] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _load_template(tokenizer: str) -> Any:
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(tokenizer)
    except Exception as exc:  # transformers raises OSError, ValueError, ImportError...
        raise ConfigError(f"cannot load tokenizer {tokenizer!r} for chat rendering: {exc}") from exc


__all__ = ["HTTPConfig", "HTTPGenerator"]


def _refuses_n(message: str) -> bool:
    """An error that says the server takes only one choice per request."""
    text = message.lower()
    return "http 4" in text and any(key in text for key in ('"n"', "'n'", " n ", "n>1", "n > 1", "parameter n", "`n`", "n must"))
