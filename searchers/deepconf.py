"""DeepConf, offline (Fu et al. 2025, "Deep Think with Confidence"): sample n traces with their token
log-probabilities, measure each trace's confidence, drop the least confident, and vote weighted by
confidence. No PRM: only the logprobs the backend already returns.

Token confidence is minus the mean log-probability of the top-k candidate tokens at a position (high
when the model was sure). A trace's confidence is one of the paper's measures, by name:
- "lowest-group": the weakest mean token confidence over any `window` consecutive tokens (the default);
- "bottom-10-group": the mean of the lowest 10% of those window means;
- "tail": the mean token confidence over the trace's last `window` tokens;
- "average": the mean token confidence over the whole trace.
The `keep` share of traces with the highest confidence vote (the paper's eta: 0.1 is DeepConf-low,
0.9 DeepConf-high); each weighs its confidence (`select="weighted"`), or use another vote rule.
Leaves out: the online variant (early-stopping traces while they are generated, against a threshold
from warm-up traces): the batched `Generator` seam returns whole traces.
"""

from __future__ import annotations

import math
import time
from typing import ClassVar

from pydantic import Field

from reason.budget import Budget, BudgetedGenerator
from reason.errors import ConfigError
from reason.generator import Generator, supports_logprobs
from reason.searcher import SearcherConfig
from reason.searchers.confidence import Measure, trace_confidence
from reason.searchers.sampling import draw_completions, finish, sample_tree, to_sample
from reason.tasks import task_style
from reason.types import Problem, SamplingParams, SearchResult


class DeepConf(SearcherConfig):
    """Args: n traces, keep share, confidence measure, window, top_logprobs, temperature, max_tokens.

    Example:
        >>> from reason.testing import FakeGenerator
        >>> DeepConf(n=4).search(Problem(question="2+2?"), FakeGenerator(["The answer is 4."], cycle=True)).answer
        '4'
    """

    strategy: ClassVar[str] = "deepconf"

    n: int = Field(default=16, ge=1)
    """Traces sampled (one batched call)."""
    keep: float = Field(default=0.9, gt=0, le=1)
    """Share of traces, most confident first, that vote (eta: 0.1 DeepConf-low, 0.9 DeepConf-high)."""
    measure: Measure = "lowest-group"
    """How a trace's confidence is read from its token confidences (see the module doc)."""
    window: int = Field(default=64, ge=1)
    """Tokens per group (the paper uses 2048 for long reasoning traces; short traces need less)."""
    top_logprobs: int = Field(default=5, ge=1)
    """Candidate tokens per position whose log-probabilities make a token's confidence."""
    select: str = "weighted"
    temperature: float = Field(default=0.8, gt=0)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = None
    budget: Budget = Budget()

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        if not supports_logprobs(generator):
            raise ConfigError(f"deepconf needs token logprobs; the {getattr(generator, 'name', '?')} backend has none")
        started = time.perf_counter()
        style = task_style(problem.task)
        metered = BudgetedGenerator(generator, self.budget)
        params = SamplingParams(temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed,
                                logprobs=self.top_logprobs, n=self.n)
        completions = draw_completions(metered, style.prompt(problem), params)
        confident = sorted(((trace_confidence(c.logprobs or (), self.measure, self.window), i, c)
                            for i, c in enumerate(completions)), key=lambda t: (-t[0], t[1]))
        voting = confident[: max(1, math.ceil(self.keep * len(confident)))] if confident else []
        samples = [to_sample(c, style).model_copy(update={"score": conf}) for conf, _, c in voting]
        trace = {"confidences": [round(conf, 4) for conf, _, _ in confident], "kept": len(voting),
                 "dropped": len(confident) - len(voting), "measure": self.measure}
        tree = sample_tree(samples, metered.root_prompt_tokens)
        return finish(self.strategy, problem, samples, metered.compute(), started, self.select, tree, trace)
