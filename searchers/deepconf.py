"""DeepConf (Fu et al. 2025, "Deep Think with Confidence"): sample n traces with their token log-probabilities,
measure each trace's confidence, drop the least confident, and vote weighted by confidence. No PRM: only the
logprobs the backend already returns.

Token confidence is minus the mean log-probability of the top-k candidate tokens at a position (high
when the model was sure). A trace's confidence is one of the paper's measures, by name:
- "lowest-group": the weakest mean token confidence over any `window` consecutive tokens (the default);
- "bottom-10-group": the mean of the lowest 10% of those window means;
- "tail": the mean token confidence over the trace's last `window` tokens;
- "average": the mean token confidence over the whole trace.
The `keep` share of traces with the highest confidence vote (the paper's eta: 0.1 is DeepConf-low,
0.9 DeepConf-high): those at or above the (1 - keep) percentile of the confidences, as the authors' code
draws the line; each weighs its confidence (`select="weighted"`), or use another vote rule.

`mode="offline"` draws all n traces whole, then filters. `mode="online"` (the paper's Algorithm 2) draws
`warmup` traces whole; the threshold is the (1 - keep) percentile of their confidences; the other n - warmup
traces are generated `chunk_tokens` at a time (one batched call per round, each trace continuing its own
text) and a trace is stopped as soon as any window of it falls below the threshold (the measure is
"lowest-group"). Stopped traces do not vote; their tokens are spent and counted in the ledger, and the trace
says how many traces and tokens were stopped. With `consensus` (the paper's tau), the traces still growing
are stopped once one answer holds that share of the confidence-weighted votes of the traces finished so far
(the paper's consensus stop; the authors' own package leaves it out). Leaves out: checking at every token
(here: at the end of each chunk).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from reason.budget import Budget, BudgetedGenerator
from reason.errors import ConfigError
from reason.generator import Generator, supports_logprobs
from reason.searcher import SearcherConfig
from reason.searchers.confidence import Measure, group_confidences, keep_threshold, trace_confidence
from reason.searchers.sampling import draw_completions, finish, sample_tree, to_sample
from reason.tasks import TaskStyle, task_style
from reason.types import ChatPrompt, Completion, Problem, SamplingParams, SearchResult, TokenLogprob
from reason.voting import weighted


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
    mode: Literal["offline", "online"] = "offline"
    """offline: n whole traces, then the filter; online: warm-up traces set a threshold, the rest stop early below it."""
    warmup: int = Field(default=4, ge=1)
    """Online: traces drawn whole to set the threshold (the paper's N_init)."""
    chunk_tokens: int = Field(default=64, ge=1)
    """Online: tokens generated per round before the running traces are checked."""
    consensus: float | None = Field(default=None, gt=0.5, le=1)
    """Online: once one answer holds this share of the confidence-weighted votes of the finished traces, the
    traces still growing are stopped (the paper's tau, 0.95); None: every trace runs to its end or its bar."""

    @model_validator(mode="after")
    def _online_reads_windows(self) -> DeepConf:
        if self.mode == "online" and self.measure != "lowest-group":
            raise ValueError("online DeepConf stops a trace at its lowest window: measure must be 'lowest-group'")
        return self

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        if not supports_logprobs(generator):
            raise ConfigError(f"deepconf needs token logprobs; the {getattr(generator, 'name', '?')} backend has none")
        started = time.perf_counter()
        style = task_style(problem.task)
        metered = BudgetedGenerator(generator, self.budget)
        if self.mode == "online":
            return self._online(problem, metered, started)
        params = self._params(self.n)
        completions = draw_completions(metered, style.prompt(problem), params)
        confident = sorted(((trace_confidence(c.logprobs or (), self.measure, self.window), i, c)
                            for i, c in enumerate(completions)), key=lambda t: (-t[0], t[1]))
        bar = keep_threshold([conf for conf, _, _ in confident], self.keep)
        voting = [entry for entry in confident if entry[0] >= bar]
        samples = [to_sample(c, style).model_copy(update={"score": conf}) for conf, _, c in voting]
        trace = {"confidences": [round(conf, 4) for conf, _, _ in confident], "kept": len(voting),
                 "dropped": len(confident) - len(voting), "measure": self.measure}
        tree = sample_tree(samples, metered.root_prompt_tokens)
        return finish(self.strategy, problem, samples, metered.compute(), started, self.select, tree, trace)

    def _params(self, n: int, max_tokens: int | None = None) -> SamplingParams:
        return SamplingParams(temperature=self.temperature, max_tokens=max_tokens or self.max_tokens, seed=self.seed,
                              logprobs=self.top_logprobs, n=n)

    def _online(self, problem: Problem, metered: BudgetedGenerator, started: float) -> SearchResult:
        style = task_style(problem.task)
        prompt = style.prompt(problem)
        warm = draw_completions(metered, prompt, self._params(min(self.warmup, self.n)))
        confidences = [trace_confidence(c.logprobs or (), self.measure, self.window) for c in warm]
        threshold = keep_threshold(confidences, self.keep)
        voting = [(conf, c) for conf, c in zip(confidences, warm) if conf >= threshold]
        traces = self._grow(metered, prompt, self.n - len(warm), threshold, voting, style) if warm else []
        stopped = [t for t in traces if t.stopped == "confidence"]
        settled = [t for t in traces if t.stopped == "consensus"]
        voting.sort(key=lambda x: -x[0])
        samples = [to_sample(c, style).model_copy(update={"score": conf}) for conf, c in voting]
        finished = len(warm) + sum(1 for t in traces if not t.stopped)
        trace = {"mode": "online", "threshold": round(threshold, 4), "warmup": len(warm), "voting": len(voting),
                 "early_stopped": len(stopped), "early_stopped_tokens": sum(t.tokens for t in stopped),
                 "consensus_stopped": len(settled), "consensus_stopped_tokens": sum(t.tokens for t in settled),
                 "dropped_finished": finished - len(voting), "measure": self.measure}
        tree = sample_tree(samples, metered.root_prompt_tokens)
        return finish(self.strategy, problem, samples, metered.compute(), started, self.select, tree, trace)

    def _grow(self, metered: BudgetedGenerator, prompt: ChatPrompt, count: int, threshold: float,
              voting: list[tuple[float, Completion]], style: TaskStyle) -> list[_Trace]:
        """`count` traces generated a chunk at a time; a trace stops when a window falls below `threshold`.

        A trace that finishes at or above it joins `voting`; with `consensus`, before each round, the traces
        still growing are stopped once one answer holds that share of the confidence-weighted votes (the
        warm-up's included: a settled warm-up grows nothing more).
        """
        traces = [_Trace() for _ in range(count)]
        live = list(traces)
        while live:
            if self.consensus is not None and _settled(voting, style, self.consensus):
                for trace in live:
                    trace.stopped = "consensus"
                break
            chunk = min(self.chunk_tokens, self.max_tokens - live[0].tokens)
            live = live[: metered.affordable(len(live), chunk)]  # what the budget cannot pay for ends here
            if not live:
                break
            if live[0].tokens == 0:  # the first round: one prompt, n samples
                [outputs] = metered.generate([prompt], self._params(len(live), chunk))
            else:
                prompts = [prompt.extended(t.text, t.ids or None) for t in live]
                outputs = [row[0] for row in metered.generate(prompts, self._params(1, chunk))]
            for trace, completion in zip(live, outputs):
                trace.extend(completion)
                groups = group_confidences(trace.logprobs, self.window) if len(trace.logprobs) >= self.window else []
                if groups and min(groups) < threshold and not trace.ended(self.max_tokens):
                    trace.stopped = "confidence"
                elif trace.ended(self.max_tokens):
                    confidence = trace_confidence(trace.logprobs, self.measure, self.window)
                    if confidence >= threshold:  # one that ends within its last window may end under the bar
                        voting.append((confidence, trace.completion()))
            live = [t for t in live if not t.stopped and not t.ended(self.max_tokens)]
        return traces

def _settled(voting: list[tuple[float, Completion]], style: TaskStyle, tau: float) -> bool:
    """Does one answer hold `tau` of the confidence-weighted votes (the paper's beta >= tau)?"""
    samples = [to_sample(c, style).model_copy(update={"score": conf}) for conf, c in voting]
    candidates = weighted(samples, style.equivalent)
    total = sum(c.score or 0.0 for c in candidates)
    return bool(candidates) and total > 0 and (candidates[0].score or 0.0) >= tau * total


@dataclass
class _Trace:
    """One online trace, grown a chunk at a time."""

    text: str = ""
    ids: tuple[int, ...] = ()
    logprobs: list[TokenLogprob] = field(default_factory=list)
    tokens: int = 0
    finish_reason: str = "length"
    stopped: str = ""
    """Why it was stopped before its end ("confidence", "consensus"); "" while it runs or once it finished."""

    def extend(self, completion: Completion) -> None:
        self.text += completion.text
        self.ids = completion.prompt_token_ids + completion.token_ids if completion.prompt_token_ids else ()
        self.logprobs.extend(completion.logprobs or ())
        self.tokens += completion.generated_tokens
        self.finish_reason = completion.finish_reason

    def ended(self, max_tokens: int) -> bool:
        return self.finish_reason != "length" or self.tokens >= max_tokens

    def completion(self) -> Completion:
        return Completion(text=self.text, logprobs=tuple(self.logprobs), finish_reason=self.finish_reason,
                          generated_tokens=self.tokens)
