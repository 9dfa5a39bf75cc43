"""Shared plumbing for strategies that sample whole solutions: prompt, sample, extract, vote, report.

`finish` turns samples into the `SearchResult` every searcher returns (candidates by
a named selection, compute with wall time, the search tree); whole-solution searchers
get a flat tree (the prompt, then one node per sample).
Leaves out: step-wise generation (tree searchers build their own prompts per step).
"""

from __future__ import annotations

import time
from typing import Any

from reason.budget import Budget, BudgetedGenerator
from reason.generator import Generator, MeteredGenerator
from reason.searchers.confidence import SAMPLE_WINDOW, trace_confidence
from reason.tasks import TaskStyle, task_style
from reason.tree import ROOT, SearchTree
from reason.types import (
    Completion,
    Compute,
    Problem,
    Prompt,
    Sample,
    SamplingParams,
    SearchResult,
)
from reason.voting import vote_rule


def sample_solutions(
    problem: Problem, generator: Generator, params: SamplingParams, budget: Budget | None = None
) -> tuple[list[Sample], BudgetedGenerator]:
    """Draw `params.n` full solutions in one batched call (fewer if the budget allows fewer)."""
    style = task_style(problem.task)
    metered = BudgetedGenerator(generator, budget)
    return draw(metered, style, style.prompt(problem), params), metered


def draw(metered: BudgetedGenerator, style: TaskStyle, prompt: Prompt, params: SamplingParams) -> list[Sample]:
    """Up to `params.n` samples of one prompt in one call; fewer when the budget allows fewer, none when spent."""
    return [to_sample(c, style) for c in draw_completions(metered, prompt, params)]


def draw_completions(metered: BudgetedGenerator, prompt: Prompt, params: SamplingParams) -> list[Completion]:
    """`draw`, before answers are read: the completions themselves (their logprobs, for one)."""
    n = metered.affordable(params.n, params.max_tokens)
    if n == 0:
        return []
    [completions] = metered.generate([prompt], params.model_copy(update={"n": n}))
    return completions


def to_sample(completion: Completion, style: TaskStyle) -> Sample:
    confidence = (trace_confidence(completion.logprobs, "lowest-group", SAMPLE_WINDOW)
                  if completion.logprobs else None)
    return Sample(
        text=completion.text,
        answer=style.extract(completion.text),
        finish_reason=completion.finish_reason,
        generated_tokens=completion.generated_tokens,
        confidence=confidence,
        thinking=completion.thinking or None,
    )


def sample_tree(samples: list[Sample], prompt_tokens: int = 0) -> SearchTree:
    """The flat tree of a whole-solution searcher: the prompt, then one node per sample."""
    tree = SearchTree()
    tree.update(ROOT, tokens=prompt_tokens)
    for s in samples:
        tree.add_child(
            ROOT, text=s.text, tokens=s.generated_tokens, score=s.score, value=s.score, terminal=True, answer=s.answer
        )
    return tree


def finish(
    strategy: str,
    problem: Problem,
    samples: list[Sample],
    compute: Compute,
    started: float,
    select: str = "majority",
    tree: SearchTree | None = None,
    trace: dict[str, Any] | None = None,
) -> SearchResult:
    """The `SearchResult`: candidates by the named selection, the winner's best sample as reasoning."""
    candidates = vote_rule(select)(samples, task_style(problem.task).equivalent)
    best = candidates[0] if candidates else None
    reasoning = samples[best.sample_indices[0]].text if best else (samples[0].text if samples else "")
    tree = tree if tree is not None else sample_tree(samples)
    return SearchResult(
        strategy=strategy,
        problem=problem,
        answer=best.answer if best else None,
        reasoning=reasoning,
        candidates=tuple(candidates),
        samples=tuple(samples),
        compute=compute.model_copy(update={"wall_time_s": time.perf_counter() - started}),
        search_tree=tree.to_json(),
        trace=trace or {},
    )


def voted_result(
    strategy: str, problem: Problem, samples: list[Sample], metered: MeteredGenerator, started: float
) -> SearchResult:
    """Majority vote over samples; the reasoning shown is the first sample behind the winner."""
    prompt_tokens = metered.root_prompt_tokens
    return finish(strategy, problem, samples, metered.compute(), started, tree=sample_tree(samples, prompt_tokens))
