"""The `Generator` seam: batched text generation, plus capability predicates.

A searcher or PRM asks `supports_logprobs(gen)` instead of guessing from the class.
Leaves out: streaming and async; every call is one synchronous batch, which is what
vLLM's offline engine and our HTTP client (concurrent requests inside) both do best.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from reason.types import EOS, Completion, Compute, Prompt, SamplingParams


def render_transcript(prompt: Prompt) -> str:
    """A plain-text rendering of a chat, for models without a chat template (and for fakes).

    Example: system "Be brief.", user "2+2?", prefix "It" -> "system: Be brief.\nuser: 2+2?\nassistant: It"
    """
    if isinstance(prompt, str):
        return prompt
    lines = [f"{m.role}: {m.content}" for m in prompt.messages]
    return "\n".join(lines) + "\nassistant: " + prompt.assistant_prefix


def vllm_stop_reason(finish_reason: str | None, reported: str | int | None) -> str | None:
    """`Completion.stop_reason` from vLLM's report: the matched stop string or token id; None on a 'stop' is EOS."""
    if finish_reason != "stop":
        return None
    if reported is None:
        return EOS
    return reported if isinstance(reported, str) else f"token {reported}"


@runtime_checkable
class Generator(Protocol):
    """Anything that turns prompts into samples.

    `generate` returns one list per prompt, each holding `params.n` completions, in order.
    """

    name: str
    """Model identity, used in logs, caches and reports."""

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]: ...

    def close(self) -> None: ...


def supports_logprobs(generator: object) -> bool:
    """True when `params.logprobs` is honoured (per-token logprobs come back)."""
    return bool(getattr(generator, "supports_logprobs", False))


def supports_prefix_cache(generator: object) -> bool:
    """True when prompts that share a prefix reuse its computed KV cache."""
    return bool(getattr(generator, "supports_prefix_cache", False))


def supports_request_seed(generator: object) -> bool:
    """True when `params.seed` is honoured per request (else only an engine-level seed applies)."""
    return bool(getattr(generator, "supports_request_seed", False))


class MeteredGenerator:
    """Wraps a generator and counts what passes through it.

    Searchers do all their model calls through one of these, so the compute they
    report is measured at one place, not re-added by each strategy.
    `role` decides whether tokens count as policy or PRM compute.
    """

    def __init__(self, inner: Generator, role: str = "policy") -> None:
        self.inner = inner
        self.role = role
        self.name = inner.name
        self.prompt_tokens = 0
        self.generated_tokens = 0
        self.calls = 0
        self.seconds = 0.0
        self.thinking_tokens = 0
        self.root_prompt_tokens = 0
        """Tokens of the first prompt of the first call: the search's root prompt, recorded once
        (later calls of a refine or lean-prover search send longer prompts)."""

    def __getattr__(self, item: str):  # capability flags and extras pass through
        return getattr(self.inner, item)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        started = time.perf_counter()
        outputs = _with_thinking_budget(self.inner, params).generate(prompts, params)
        self.seconds += time.perf_counter() - started
        self.calls += 1
        if self.calls == 1 and outputs and outputs[0]:
            self.root_prompt_tokens = outputs[0][0].prompt_tokens
        for per_prompt in outputs:
            if per_prompt:  # the prompt is processed once however many samples it gets
                self.prompt_tokens += per_prompt[0].prompt_tokens
            self.generated_tokens += sum(c.generated_tokens for c in per_prompt)
            self.thinking_tokens += sum(c.thinking_tokens for c in per_prompt)
        return outputs

    def close(self) -> None:
        self.inner.close()

    def compute(self) -> Compute:
        if self.role == "prm":
            return Compute(
                prm_prompt_tokens=self.prompt_tokens,
                prm_generated_tokens=self.generated_tokens,
                prm_calls=self.calls,
            )
        return Compute(
            prompt_tokens=self.prompt_tokens, generated_tokens=self.generated_tokens, model_calls=self.calls,
            thinking_tokens=self.thinking_tokens,
        )


def _with_thinking_budget(generator: Generator, params: SamplingParams) -> Generator:
    """The generator that honours the call's thinking budget: itself when it already does (a `ThinkingBudget`
    somewhere inside: wrappers pass capability flags through) or none is asked, else wrapped in one."""
    if params.max_thinking_tokens is None and params.min_thinking_tokens is None:
        return generator
    if getattr(generator, "enforces_thinking_budget", False):
        return generator
    from reason.thinking import ThinkingBudget  # the wrapper imports this module

    return ThinkingBudget(generator)
