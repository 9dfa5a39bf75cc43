"""Shared plumbing for strategies that sample whole solutions: prompt, sample, extract, vote.

Leaves out: step-wise generation (tree searchers build their own prompts per step).
"""

from __future__ import annotations

import time

from reason.generator import Generator, MeteredGenerator
from reason.tasks import task_style
from reason.types import Problem, SamplingParams, Sample, SearchResult
from searchers.voting import majority_vote


def sample_solutions(problem: Problem, generator: Generator, params: SamplingParams) -> tuple[list[Sample], MeteredGenerator]:
    """Draw `params.n` full solutions in one batched call and extract their answers."""
    style = task_style(problem.task)
    metered = MeteredGenerator(generator)
    [completions] = metered.generate([style.prompt(problem)], params)
    samples = [
        Sample(
            text=c.text,
            answer=style.extract(c.text),
            finish_reason=c.finish_reason,
            generated_tokens=c.generated_tokens,
        )
        for c in completions
    ]
    return samples, metered


def voted_result(strategy: str, problem: Problem, samples: list[Sample], metered: MeteredGenerator, started: float) -> SearchResult:
    """Majority vote over samples; the reasoning shown is the first sample behind the winner."""
    candidates = majority_vote(samples, task_style(problem.task).equivalent)
    best = candidates[0] if candidates else None
    reasoning = samples[best.sample_indices[0]].text if best else (samples[0].text if samples else "")
    compute = metered.compute().model_copy(update={"wall_time_s": time.perf_counter() - started})
    return SearchResult(
        strategy=strategy,
        problem=problem,
        answer=best.answer if best else None,
        reasoning=reasoning,
        candidates=tuple(candidates),
        samples=tuple(samples),
        compute=compute,
    )
