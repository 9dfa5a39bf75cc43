"""Fakes for fast, deterministic tests of anything built on the seams.

`FakeGenerator` answers from a script and records every call, so a test can assert
both on what a searcher concluded and on what it asked the model. Tokens are
whitespace-separated words (each distinct word one id), which keeps compute accounting
checkable.
Leaves out: realistic timing or sampling statistics.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reason.errors import GeneratorError
from reason.generator import render_transcript
from reason.types import (
    EOS,
    ChatPrompt,
    Completion,
    Prompt,
    SamplingParams,
    TokenLogprob,
)

Responder = Callable[[str, SamplingParams], str]
"""Gets the rendered prompt text and the params; returns one sample's text."""


render_plain = render_transcript
"""How the fake renders chats: "role: content" lines, then the assistant prefix."""


@dataclass
class FakeCall:
    prompts: list[str]
    """Rendered, as the fake read them."""
    params: SamplingParams
    sent: list[Prompt] = field(default_factory=list)
    """The prompts as the caller passed them (chat prompts with their `continues` ids)."""


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
        self._vocabulary: dict[str, int] = {}
        if not callable(self.script):
            items = list(self.script)
            self._queue = itertools.cycle(items) if self.cycle and items else iter(items)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        rendered = [render_plain(p) for p in prompts]
        self.calls.append(FakeCall(prompts=rendered, params=params, sent=list(prompts)))
        return [[self._complete(text, params) for _ in range(params.n)] for text in rendered]

    def _complete(self, prompt: str, params: SamplingParams) -> Completion:
        stop_reason: str | None
        text, stop_reason = _stop(self._next_text(prompt, params), params.stop)
        words = text.split()
        finish = "stop"
        if len(words) > params.max_tokens:
            words, finish, stop_reason = words[: params.max_tokens], "length", None
            text = " ".join(words)
        logprobs = None
        if params.logprobs is not None:
            logprobs = tuple(TokenLogprob(token=w, logprob=-0.1) for w in words)
        return Completion(
            text=text,
            token_ids=self.tokenize(text),
            prompt_token_ids=self.tokenize(prompt),
            logprobs=logprobs,
            finish_reason=finish,
            stop_reason=stop_reason,
            prompt_tokens=len(prompt.split()),
            generated_tokens=len(words),
        )

    def tokenize(self, text: str) -> tuple[int, ...]:
        """The fake's token ids of a text: one per word, each distinct word its own id for as long as this fake lives."""
        return tuple(self._vocabulary.setdefault(w, len(self._vocabulary)) for w in text.split())

    def _next_text(self, prompt: str, params: SamplingParams) -> str:
        if callable(self.script):
            return self.script(prompt, params)
        try:
            return next(self._queue)
        except StopIteration:
            raise GeneratorError("FakeGenerator script exhausted") from None

    def close(self) -> None:
        pass


def _stop(text: str, stops: Sequence[str]) -> tuple[str, str]:
    """Where a scripted sample stops, and why.

    At the first stop string in the text, like a real backend; a text ending in `EOS` ends
    there as the model's own end; any other text is taken as ended by the first stop string
    (scripted steps are written without their delimiter), or by EOS when there is none.
    """
    hits = [(text.find(s), s) for s in stops if s in text]
    if hits:
        at, stop = min(hits)
        return text[:at], stop
    if text.endswith(EOS):
        return text[: -len(EOS)], EOS
    return text, stops[0] if stops else EOS


def by_prefix(steps: Mapping[str, Sequence[str]], default: str = "The answer is 0.") -> Responder:
    """A FakeGenerator script for step-wise searches: the next steps to hand out after each prefix.

    Keys are the assistant prefix so far, stripped ("" at the root); each key's steps are
    handed out in turn, one per sample, starting over when used up. Any other prefix
    gets `default`.

    Example:
        >>> gen = FakeGenerator(by_prefix({"": ["a", "b"], "a": ["The answer is 1."]}))
        >>> [c.text for c in gen.generate([ChatPrompt(messages=())], SamplingParams(n=3, temperature=1))[0]]
        ['a', 'b', 'a']
    """
    turns = {key: itertools.cycle(values) for key, values in steps.items()}

    def respond(prompt: str, params: SamplingParams) -> str:
        prefix = prompt.rsplit("assistant: ", 1)[-1].strip()
        return next(turns[prefix]) if prefix in turns else default

    return respond


@dataclass
class FakePRM:
    """A scripted process reward model that records every batch it scores.

    Args:
        scores: step text -> score (steps it does not name get `default`), or a function
            of one solution's steps that returns their scores.
        default: the score of a step the mapping does not name.

    Example:
        >>> prm = FakePRM({"2 + 2 = 5": 0.1}, default=0.9)
        >>> prm.score(None, [["2 + 2 = 5", "The answer is 5."]])
        [[0.1, 0.9]]
    """

    scores: Mapping[str, float] | Callable[[Sequence[str]], Sequence[float]] = field(default_factory=dict)
    default: float = 0.5
    name: str = "fake"
    history: list[list[list[str]]] = field(default_factory=list)

    def score(self, problem: object, steps_batch: Sequence[Sequence[str]]) -> list[list[float]]:
        self.history.append([list(steps) for steps in steps_batch])
        return [self._one(steps) for steps in steps_batch]

    def _one(self, steps: Sequence[str]) -> list[float]:
        if callable(self.scores):
            return [float(x) for x in self.scores(steps)]
        return [float(self.scores.get(step, self.default)) for step in steps]


def at_once(call: Callable[[], object], threads: int = 8) -> tuple[list[object], list[BaseException]]:
    """Run `call` in `threads` threads released together by a barrier; what they returned and what they raised.

    For races a component must survive (a registry's first lookup, a shared folder built on first use).
    Example: at_once(lambda: 1, 3) -> ([1, 1, 1], [])
    """
    start = threading.Barrier(threads)
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(call())
        except BaseException as exc:  # every failure is the caller's to see
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results, errors


__all__ = ["ChatPrompt", "FakeCall", "FakeGenerator", "FakePRM", "at_once", "by_prefix", "render_plain"]
