"""Lean prover: ask the model for a Lean 4 proof, check it with Lean, retry with Lean's error as feedback.

The problem's question holds a formal statement (`theorem t (a b : Nat) : a + b = b + a := by sorry`).
Each attempt is one sample of the "lean" prompt (reason/prompts/lean.toml); the Lean verifier
combines the statement with the proof in the sample (the whole theorem, or just its proof) and
checks it. A pass ends the search; a fail extends the conversation with the attempt and Lean's
message, up to `max_attempts`; a timeout is fed back the same way; an `error` (no Lean, no
Lean code at all) is fed back once, and ends the search when Lean itself is unavailable.
The answer is the checked Lean file of the first proof Lean accepted, else None. Every
attempt's verdict is in `trace["attempts"]`.
Leaves out: proof search over tactic states (that needs a Lean REPL; see the README's LeanDojo note).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import Field

from reason.budget import Budget, BudgetedGenerator
from reason.generator import Generator
from reason.registry import registry
from reason.searcher import SearcherConfig
from reason.searchers.sampling import draw, sample_tree
from reason.tasks import task_style
from reason.types import (
    Candidate,
    ChatMessage,
    ChatPrompt,
    Problem,
    Sample,
    SamplingParams,
    SearchResult,
    Verdict,
)
from reason.verifier import unavailable

PROMPT_STYLE = "lean"


class LeanProver(SearcherConfig):
    """Args: max_attempts, feedback template, sampling knobs, Lean settings, budget."""

    strategy: ClassVar[str] = "lean-prover"

    max_attempts: int = Field(default=4, ge=1)
    feedback: str = (
        "Lean rejected this proof:\n{detail}\n"
        "Fix the proof. Reply with the complete theorem and its proof in one ```lean code block."
    )
    """The user turn after a rejected attempt; `{detail}` is Lean's message."""
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=256, ge=1)
    seed: int | None = None
    lean: dict[str, Any] = Field(default_factory=dict)
    """Options of the registered `lean` verifier (its `LeanConfig` fields: backend, timeout_s, ...)."""
    budget: Budget = Budget()

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started = time.perf_counter()
        metered = BudgetedGenerator(generator, self.budget)
        style, verifier = task_style(PROMPT_STYLE), registry.build("verifier", "lean", **self.lean)
        prompt = style.prompt(problem)
        params = SamplingParams(temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)
        samples: list[Sample] = []
        attempts: list[dict] = []
        while len(samples) < self.max_attempts and (new := draw(metered, style, prompt, params)):
            sample, verdict = self.attempt(problem, new[0], verifier)
            samples.append(sample)
            attempts.append({"verdict": verdict.model_dump(), "source": sample.answer or verifier.source(problem, sample.text)})
            if verdict.passed or _hopeless(verdict):
                break
            prompt = self.retry_prompt(prompt, sample, verdict)
        return _result(self.strategy, problem, samples, attempts, metered, started)

    def attempt(self, problem: Problem, sample: Sample, verifier: Any) -> tuple[Sample, Verdict]:
        """Check one attempt; a passing sample's answer is the Lean file that was checked."""
        verdict = verifier.verify(problem, sample.text)
        answer = verifier.source(problem, sample.text) if verdict.passed else None
        return sample.model_copy(update={"answer": answer, "score": 1.0 if verdict.passed else 0.0}), verdict

    def retry_prompt(self, prompt: ChatPrompt, sample: Sample, verdict: Verdict) -> ChatPrompt:
        turns = (
            ChatMessage(role="assistant", content=sample.text),
            ChatMessage(role="user", content=self.feedback.format(detail=verdict.detail or verdict.status)),
        )
        return ChatPrompt(messages=prompt.messages + turns)


def _hopeless(verdict: Verdict) -> bool:
    """No point retrying: there is no Lean to check with."""
    return unavailable(verdict)


def _result(
    strategy: str, problem: Problem, samples: list[Sample], attempts: list[dict], metered: BudgetedGenerator, started: float
) -> SearchResult:
    proved = [i for i, s in enumerate(samples) if s.answer is not None]
    candidates = tuple(Candidate(answer=samples[i].answer, votes=1, score=1.0, sample_indices=(i,)) for i in proved)  # type: ignore[arg-type]
    reasoning = samples[proved[0]].text if proved else (samples[-1].text if samples else "")
    tree = sample_tree(samples, metered.root_prompt_tokens)
    return SearchResult(
        strategy=strategy,
        problem=problem,
        answer=samples[proved[0]].answer if proved else None,
        reasoning=reasoning,
        candidates=candidates,
        samples=tuple(samples),
        compute=metered.compute().model_copy(update={"wall_time_s": time.perf_counter() - started}),
        search_tree=tree.to_json(),
        trace={"attempts": attempts},
    )
