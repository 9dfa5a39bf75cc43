"""Verifier-guided refinement: solve, check, feed the verdict back, try again.

Each round draws one solution and checks it without the reference answer: first the
built-in checks in `CHECKS` (a final answer was stated; the solution was not cut off),
then the configured verifier (a registered name, a `Verifier`, or a function
`(problem, answer) -> bool | Verdict`) on the answer. On a `fail` the conversation is
extended with the solution and a user turn carrying the verdict's detail, and the
model tries again, up to `max_rounds`. A verdict of `error` or `timeout` (the verifier
cannot decide) ends the loop, since there is nothing to feed back. The answer is the
first accepted attempt's; when none is accepted, the most frequent answer.
Leaves out: critiques written by a model (the feedback is the verifier's own detail).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, field_validator

from reason.budget import Budget, BudgetedGenerator
from reason.generator import Generator
from reason.searcher import SearcherConfig
from reason.searchers.sampling import draw, finish
from reason.tasks import task_style
from reason.tree import ROOT, SearchTree
from reason.types import (
    ChatMessage,
    ChatPrompt,
    Problem,
    Sample,
    SamplingParams,
    SearchResult,
    Verdict,
)
from reason.verifier import as_verifier, verifier_choice, without_reference


def _stated_answer(sample: Sample) -> Verdict | None:
    if sample.answer is None:
        return Verdict(
            status="fail", rule="answer", detail="no final answer was found; end with the final answer on its own line."
        )
    return None


def _complete(sample: Sample) -> Verdict | None:
    if sample.finish_reason == "length":
        return Verdict(
            status="fail", rule="complete", detail="the solution was cut off before it finished; be more concise."
        )
    return None


CHECKS: dict[str, Callable[[Sample], Verdict | None]] = {"answer": _stated_answer, "complete": _complete}
"""Reference-free checks every attempt gets before the verifier; each returns a failing verdict or None."""


VERDICT_SCORES = {"pass": 1.0, "fail": 0.0}
UNDECIDED = 0.5
"""An attempt the verifier could not decide (error, timeout) ends the search, scored as unproven."""


class VerifierRefine(SearcherConfig):
    """Args: verifier (None: built-in checks only), max_rounds, feedback template, sampling knobs, budget."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    strategy: ClassVar[str] = "refine"

    verifier: Any = None
    max_rounds: int = Field(default=3, ge=1)
    feedback: str = (
        "Your solution was checked and not accepted: {detail}\nSolve the problem again, step by step, fixing that."
    )
    """The user turn after a failed attempt; `{detail}` is the verdict's detail."""
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = None
    budget: Budget = Budget()

    @field_validator("verifier")
    @classmethod
    def _check_verifier(cls, value: Any) -> Any:
        return None if value is None else verifier_choice(value)

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started, style = time.perf_counter(), task_style(problem.task)
        metered, prompt = BudgetedGenerator(generator, self.budget), style.prompt(problem)
        params = SamplingParams(temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)
        samples: list[Sample] = []
        verdicts: list[Verdict] = []
        while len(samples) < self.max_rounds and (new := draw(metered, style, prompt, params)):
            verdict = self.check(problem, new[0])
            samples.append(new[0].model_copy(update={"score": VERDICT_SCORES.get(verdict.status, UNDECIDED)}))
            verdicts.append(verdict)
            if verdict.status != "fail":
                break
            prompt = self.retry_prompt(prompt, new[0], verdict)
        trace = {"verdicts": [v.model_dump() for v in verdicts]}
        tree = _chain(samples, verdicts, metered.root_prompt_tokens)
        return finish(self.strategy, problem, samples, metered.compute(), started, "best", tree, trace)

    def check(self, problem: Problem, sample: Sample) -> Verdict:
        """The first failing built-in check, else the verifier's verdict on the answer (never with the reference)."""
        for rule in CHECKS.values():
            if (failed := rule(sample)) is not None:
                return failed
        if self.verifier is None:
            return Verdict(status="pass", rule="checks", detail="built-in checks passed")
        return as_verifier(self.verifier).verify(without_reference(problem), sample.answer)  # type: ignore[arg-type]

    def retry_prompt(self, prompt: ChatPrompt, sample: Sample, verdict: Verdict) -> ChatPrompt:
        detail = verdict.detail or f"{verdict.rule or 'the check'} failed"
        turns = (
            ChatMessage(role="assistant", content=sample.text),
            ChatMessage(role="user", content=self.feedback.format(detail=detail)),
        )
        return ChatPrompt(messages=prompt.messages + turns)


def _chain(samples: list[Sample], verdicts: list[Verdict], prompt_tokens: int) -> SearchTree:
    """Attempts as a chain: each retry is a child of the attempt whose verdict it answers."""
    tree = SearchTree()
    tree.update(ROOT, tokens=prompt_tokens)
    parent = ROOT
    for sample, verdict in zip(samples, verdicts):
        parent = tree.add_child(
            parent,
            text=sample.text,
            tokens=sample.generated_tokens,
            terminal=True,
            answer=sample.answer,
            score=sample.score,
            value=sample.score,
            verdict=verdict.status,
            detail=verdict.detail,
        )
    return tree
