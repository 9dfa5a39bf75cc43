"""Program of thought: the model writes a Python program, the sandbox runs it, what it prints is the answer.

Each sample is a completion of the "pot" prompt (reason/prompts/pot.toml) whose assistant turn
is opened with a ```python fence, so even a small model continues with code, stopped at the
closing fence. The program runs in the sandbox, and
the answer is read from the program's output by the problem's own task style (so a program
that prints "The answer is 18" gives "18"), falling back to the last printed line. A sample
whose program is missing, fails or hits a limit has no answer. With n > 1 the answers are
voted on, as in self-consistency. Every run is recorded in `trace["runs"]`.
Leaves out: repairing a failing program (verifier-guided refinement can do that round trip).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import Field

from reason.budget import Budget, BudgetedGenerator
from reason.extract import printed_answer
from reason.generator import Generator
from reason.registry import registry
from reason.searcher import SearcherConfig
from reason.searchers.sampling import draw, finish, sample_tree
from reason.tasks import task_style
from reason.types import Problem, Sample, SamplingParams, SearchResult

PROMPT_STYLE = "pot"
"""The task style whose system and user templates ask for a program."""
FENCE_START, FENCE_END = "```python\n", "```"
"""The assistant's turn is opened with a code fence, so the model continues a program; the closing fence stops it."""


class ProgramOfThought(SearcherConfig):
    """Args: n programs (voted), sampling knobs, sandbox limits per run, budget."""

    strategy: ClassVar[str] = "program-of-thought"

    n: int = Field(default=1, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=384, ge=1)
    seed: int | None = None
    limits: dict[str, Any] = Field(default_factory=lambda: {"wall_s": 20.0, "cpu_s": 10})
    """Sandbox limits per run: the registered `code` verifier's `SandboxLimits` fields."""
    budget: Budget = Budget()

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started = time.perf_counter()
        metered = BudgetedGenerator(generator, self.budget)
        params = SamplingParams(
            temperature=self.temperature, max_tokens=self.max_tokens, n=self.n, seed=self.seed, stop=(FENCE_END,)
        )
        prompt = task_style(PROMPT_STYLE).prompt(problem).extended(FENCE_START)
        drawn = [_fenced(s) for s in draw(metered, task_style(problem.task), prompt, params)]
        runner = registry.build("verifier", "code", limits=self.limits)  # its program reader and sandbox
        runs = [run_program(problem, sample, runner) for sample in drawn]
        samples = [sample for sample, _ in runs]
        trace = {"runs": [record for _, record in runs]}
        prompt_tokens = metered.root_prompt_tokens
        return finish(self.strategy, problem, samples, metered.compute(), started, tree=sample_tree(samples, prompt_tokens), trace=trace)


def _fenced(sample: Sample) -> Sample:
    """The sample's text as the whole fenced program (the opening fence was in the prompt)."""
    return sample.model_copy(update={"text": f"{FENCE_START}{sample.text.rstrip()}\n{FENCE_END}"})


def run_program(problem: Problem, sample: Sample, runner: Any) -> tuple[Sample, dict]:
    """Run the sample's program with the `code` verifier's sandbox; the sample with the program's
    answer, and a record of the run."""
    program = runner.program(sample.text)
    if program is None:
        return sample.model_copy(update={"answer": None}), {"program": None, "status": "no-program"}
    result = runner.sandbox.run(program)
    answer = answer_from_output(problem, result)
    record = {
        "program": program,
        "status": result.status,
        "limit": result.limit,
        "stdout": result.stdout[-2000:],
        "stderr": result.stderr[-2000:],
        "answer": answer,
        "wall_s": result.wall_s,
    }
    return sample.model_copy(update={"answer": answer}), record


def answer_from_output(problem: Problem, result: Any) -> str | None:
    """The answer a successful run printed: by the task style's extraction, else its last line."""
    if result.status != "pass":
        return None
    last = printed_answer(result.stdout)
    if last is None:
        return None
    return task_style(problem.task).extract(last) or last
