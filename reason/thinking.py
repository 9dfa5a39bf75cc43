"""Thinking budgets for reasoning models (s1's budget forcing, Muennighoff et al. 2025), as a generator wrapper.

For a model whose chat template has a thinking span (`<think> ... </think>` by default), `ThinkingBudget`
runs every call that asks for a budget (`SamplingParams.max_thinking_tokens` / `min_thinking_tokens`, or the
wrapper's own defaults) in phases, batched across prompts and samples:
1. think: the assistant turn is opened with the open tag, and generation stops at the close tag or at
   `max_thinking_tokens` (the cap: the span is then closed for the model, whatever it was doing);
2. extend: a sample that closed its span before `min_thinking_tokens` has the close tag taken away and
   `wait` ("Wait") appended, and thinks on (at most `max_extensions` times, and never past the cap);
3. answer: the span is closed and the answer generated with the call's own `max_tokens` and stop strings.
The completion's `text` is the answer alone; `thinking` holds the span's text and `thinking_tokens` its
tokens. `generated_tokens` is both, so the ledger's total is honest, and `MeteredGenerator` reports the
thinking part apart (`Compute.thinking_tokens`); `model_calls` counts the searcher's calls, each of which is
two backend calls or more (think, any extensions, answer). Calls without a budget pass straight through.
Serving frameworks' own caps are not relied on (they are reported not to hold, sglang#25536): the cap here is
the think call's `max_tokens`, which every backend honours.
A template that opens the span by itself in the generation prompt wants `open_tag=""`.
`ThinkingOptions` is the same set of options as data (a bench run's `thinking`), and `with_thinking` gives
any searcher a budget for all its calls, wherever it runs (a thread here, a Ray task).
Leaves out: spans that are not tag-delimited; counting again the prompt tokens of the extend and answer calls
(the prompt plus the thinking so far, which a prefix cache does not recompute).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic import Field, model_validator

from reason.generator import Generator
from reason.searcher import Searcher
from reason.types import ChatPrompt, Completion, Frozen, Problem, Prompt, SamplingParams, SearchResult


def extend_prompt(prompt: Prompt, more: str) -> Prompt:
    """The prompt with `more` already written by the assistant (text prompts: appended)."""
    return prompt.extended(more) if isinstance(prompt, ChatPrompt) else prompt + more


@dataclass
class _Thread:
    """One sample on its way through the phases."""

    prompt: Prompt
    thinking: str = ""
    tokens: int = 0
    prompt_tokens: int = 0
    closed: bool = False
    extensions: int = 0


class ThinkingBudget:
    """A `Generator` that enforces thinking budgets (see the module docstring).

    Args:
        inner: the backend.
        max_thinking_tokens, min_thinking_tokens: defaults for calls whose params set neither.
        open_tag, close_tag: the thinking span's delimiters in the model's chat template.
        wait: what is appended to think on (s1: "Wait").
        max_extensions: most times one sample is told to think on.
    """

    enforces_thinking_budget = True
    """A capability flag: `MeteredGenerator` wraps a generator in one of these only when none is inside."""

    def __init__(self, inner: Generator, max_thinking_tokens: int | None = None, min_thinking_tokens: int | None = None,
                 open_tag: str = "<think>", close_tag: str = "</think>", wait: str = "Wait",
                 max_extensions: int = 4) -> None:
        self.inner = inner
        self.name = inner.name
        self.defaults = (max_thinking_tokens, min_thinking_tokens)
        self.open_tag, self.close_tag, self.wait, self.max_extensions = open_tag, close_tag, wait, max_extensions

    def __getattr__(self, item: str):  # capability flags pass through
        return getattr(self.inner, item)

    def close(self) -> None:
        self.inner.close()

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        cap, floor = self._budget(params)
        if cap is None and floor is None:
            return self.inner.generate(prompts, params)
        threads = self._think(prompts, params, cap)
        self._extend(threads, params, cap, floor)
        answers = self._answer(threads, params)
        results = [self._completion(t, a) for t, a in zip(threads, answers)]
        return [results[i * params.n : (i + 1) * params.n] for i in range(len(prompts))]

    def _budget(self, params: SamplingParams) -> tuple[int | None, int | None]:
        if params.max_thinking_tokens is None and params.min_thinking_tokens is None:
            return self.defaults
        return params.max_thinking_tokens, params.min_thinking_tokens

    def _think(self, prompts: Sequence[Prompt], params: SamplingParams, cap: int | None) -> list[_Thread]:
        think = _phase(params, max_tokens=cap or params.max_tokens, stop=(self.close_tag,), logprobs=None)
        opened = [extend_prompt(p, self.open_tag) for p in prompts]
        outputs = self.inner.generate(opened, think)
        threads = []
        for prompt, completions in zip(opened, outputs):
            for c in completions:
                threads.append(_Thread(prompt, c.text, c.generated_tokens, c.prompt_tokens, _closed(c)))
        return threads

    def _extend(self, threads: list[_Thread], params: SamplingParams, cap: int | None, floor: int | None) -> None:
        """s1's "Wait": samples that stopped thinking too soon think on, one batched call per round."""
        while floor is not None:
            short = [t for t in threads if t.closed and t.tokens < floor and t.extensions < self.max_extensions
                     and (cap is None or t.tokens < cap)]
            if not short:
                return
            room = min((cap - t.tokens) if cap is not None else params.max_tokens for t in short)
            more = _phase(params, n=1, max_tokens=max(1, room), stop=(self.close_tag,), logprobs=None)
            outputs = self.inner.generate([extend_prompt(t.prompt, f"{t.thinking} {self.wait}") for t in short], more)
            for thread, [c] in zip(short, outputs):
                thread.thinking += f" {self.wait}{c.text}"
                thread.tokens += c.generated_tokens
                thread.closed, thread.extensions = _closed(c), thread.extensions + 1

    def _answer(self, threads: list[_Thread], params: SamplingParams) -> list[Completion]:
        """Close every span (a capped one is closed for the model) and generate the answers in one call."""
        answer = _phase(params, n=1)
        prompts = [extend_prompt(t.prompt, f"{t.thinking}{self.close_tag}\n") for t in threads]
        return [row[0] for row in self.inner.generate(prompts, answer)] if threads else []

    def _completion(self, thread: _Thread, answer: Completion) -> Completion:
        return answer.model_copy(update={
            "thinking": thread.thinking, "thinking_tokens": thread.tokens, "prompt_tokens": thread.prompt_tokens,
            "generated_tokens": thread.tokens + answer.generated_tokens,
        })


def _phase(params: SamplingParams, **update: object) -> SamplingParams:
    """One phase's backend params: the call's own with `update`, and no thinking budget (the phase is the budget)."""
    return params.model_copy(update={**update, "max_thinking_tokens": None, "min_thinking_tokens": None})


def _closed(completion: Completion) -> bool:
    """Did the model end its span itself (at the close tag, or by ending its turn) rather than run into the cap?"""
    return completion.finish_reason != "length"


class ThinkingOptions(Frozen):
    """`ThinkingBudget`'s options as data: the budgets every call gets unless its own params set theirs."""

    max_thinking_tokens: int | None = Field(default=None, ge=1)
    min_thinking_tokens: int | None = Field(default=None, ge=1)
    open_tag: str = "<think>"
    close_tag: str = "</think>"
    wait: str = "Wait"
    max_extensions: int = Field(default=4, ge=0)

    @model_validator(mode="after")
    def _floor_under_cap(self) -> ThinkingOptions:
        SamplingParams(max_thinking_tokens=self.max_thinking_tokens, min_thinking_tokens=self.min_thinking_tokens)
        return self


@dataclass(frozen=True)
class ThinkingSearcher:
    """A searcher whose every model call goes through a `ThinkingBudget` with these options."""

    inner: Searcher
    options: ThinkingOptions

    @property
    def strategy(self) -> str:
        return str(getattr(self.inner, "strategy", "?"))

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        return self.inner.search(problem, ThinkingBudget(generator, **self.options.model_dump()))

    def __getattr__(self, item: str) -> Any:  # the searcher's own fields (budget, n, ...) read through
        if item.startswith("_") or item in ("inner", "options"):  # unpickling asks before `inner` is set
            raise AttributeError(item)
        return getattr(self.inner, item)


def with_thinking(searcher: Searcher, options: ThinkingOptions | None) -> Searcher:
    """`searcher` with a thinking budget on all its calls; itself when `options` is None."""
    # a Searcher by shape (its strategy is the inner one's, a property where the protocol has a class attribute)
    return searcher if options is None else cast(Searcher, ThinkingSearcher(searcher, options))


def thinking_options(max_thinking_tokens: int | None, min_thinking_tokens: int | None) -> ThinkingOptions | None:
    """The options for these budgets with the default tags; None when neither is set (no budget at all).

    A floor over the cap is a `ConfigError`.
    """
    if max_thinking_tokens is None and min_thinking_tokens is None:
        return None
    SamplingParams(max_thinking_tokens=max_thinking_tokens, min_thinking_tokens=min_thinking_tokens)  # the plain message
    return ThinkingOptions(max_thinking_tokens=max_thinking_tokens, min_thinking_tokens=min_thinking_tokens)
