"""Fakes for fast, deterministic tests of anything built on the seams.

`FakeGenerator` answers from a script and records every call, so a test can assert
both on what a searcher concluded and on what it asked the model. Tokens are
counted as whitespace-separated words, which keeps compute accounting checkable.
Leaves out: realistic timing or sampling statistics.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from reason.errors import GeneratorError
from reason.types import ChatPrompt, Completion, Prompt, SamplingParams, TokenLogprob

Responder = Callable[[str, SamplingParams], str]
"""Gets the rendered prompt text and the params; returns one sample's text."""


def render_plain(prompt: Prompt) -> str:
    """A readable stand-in for a chat template: "role: content" lines, then the assistant prefix."""
    if isinstance(prompt, str):
        return prompt
    lines = [f"{m.role}: {m.content}" for m in prompt.messages]
    return "\n".join(lines) + "\nassistant: " + prompt.assistant_prefix


@dataclass
class FakeCall:
    prompts: list[str]
    params: SamplingParams


@dataclass
class FakeGenerator:
    """A scripted generator.

    Args:
        script: sample texts handed out in order (one per sample, across calls), or a
            function of (rendered prompt, params) that returns a sample's text.
        cycle: start the script over when it runs out, instead of raising.

    Example:
        >>> gen = FakeGenerator(["The answer is 4."])
        >>> gen.generate(["2+2?"], SamplingParams(max_tokens=8))[0][0].text
        'The answer is 4.'
    """

    script: Iterable[str] | Responder = ()
    cycle: bool = False
    name: str = "fake"
    supports_logprobs: bool = True
    supports_prefix_cache: bool = False
    supports_request_seed: bool = True
    calls: list[FakeCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not callable(self.script):
            items = list(self.script)
            self._queue = itertools.cycle(items) if self.cycle and items else iter(items)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        rendered = [render_plain(p) for p in prompts]
        self.calls.append(FakeCall(prompts=rendered, params=params))
        return [[self._complete(text, params) for _ in range(params.n)] for text in rendered]

    def _complete(self, prompt: str, params: SamplingParams) -> Completion:
        text = self._next_text(prompt, params)
        words = text.split()
        finish = "stop"
        if len(words) > params.max_tokens:
            words, finish = words[: params.max_tokens], "length"
            text = " ".join(words)
        logprobs = None
        if params.logprobs is not None:
            logprobs = tuple(TokenLogprob(token=w, logprob=-0.1) for w in words)
        return Completion(
            text=text,
            token_ids=tuple(range(len(words))),
            logprobs=logprobs,
            finish_reason=finish,
            prompt_tokens=len(prompt.split()),
            generated_tokens=len(words),
        )

    def _next_text(self, prompt: str, params: SamplingParams) -> str:
        if callable(self.script):
            return self.script(prompt, params)
        try:
            return next(self._queue)
        except StopIteration:
            raise GeneratorError("FakeGenerator script exhausted") from None

    def close(self) -> None:
        pass


__all__ = ["ChatPrompt", "FakeCall", "FakeGenerator", "render_plain"]
