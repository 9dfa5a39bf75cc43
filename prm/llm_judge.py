"""LLM-as-judge PRM: ask a model whether each step is correct, read P("yes") from its logprobs.

For step i of a solution the judge sees the problem, steps 1..i and the question
"Is step i correct?", and generates one token with logprobs. The score is
P(yes) / (P(yes) + P(no)), summed over the spellings in `yes` / `no` found among the
top alternatives (case and spaces ignored); 0.5 when neither shows up. All unscored
prefixes of a batch go in one call, and the prompts of one solution's steps share
their beginning, so a prefix cache reuses it. A bound judge remembers what it scored,
so a tree search never pays twice for a prefix.
Leaves out: chain-of-thought judging (generating a critique before the verdict).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, PrivateAttr

from reason.errors import ConfigError
from reason.generator import Generator, supports_logprobs
from reason.reward import StepsBatch
from reason.types import (
    ChatMessage,
    ChatPrompt,
    Completion,
    Problem,
    SamplingParams,
    Validated,
)


class LLMJudgePRM(Validated):
    """Args: generator (None: the searcher's policy model), the judging prompt, the yes/no spellings.

    Example:
        >>> from reason.testing import FakeGenerator
        >>> judge = LLMJudgePRM().bind(FakeGenerator(["Yes"], cycle=True))
        >>> judge.score(Problem(question="1+1?"), [["1 + 1 = 2", "The answer is 2."]])
        [[1.0, 1.0]]
    """

    # Not frozen: its answers are memoised per step prefix (its parameters never change after construction).
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    name: ClassVar[str] = "llm-judge"
    uses_generator: ClassVar[bool] = True

    generator: Any = Field(default=None, exclude=True, repr=False)
    """The judging model; None until bound (searchers bind the policy model)."""
    system: str = "You check math solutions step by step. Answer only Yes or No."
    ask: str = "Is step {index} correct? Answer Yes or No."
    yes: tuple[str, ...] = ("yes",)
    no: tuple[str, ...] = ("no",)
    top_logprobs: int = Field(default=20, ge=1, le=20)
    _cache: dict[tuple[str, tuple[str, ...]], float] = PrivateAttr(default_factory=dict)

    def bind(self, generator: Generator) -> LLMJudgePRM:
        """A copy that judges with `generator` (which must return logprobs), with an empty memory."""
        if not supports_logprobs(generator):
            raise ConfigError(
                "the llm-judge PRM reads P(yes) from token logprobs, and generator "
                f"{getattr(generator, 'name', generator)!r} does not return them; use a backend that does (vllm) "
                "or another PRM"
            )
        bound = self.model_copy(update={"generator": generator})
        bound._cache = {}
        return bound

    def score(self, problem: Problem, steps_batch: StepsBatch) -> list[list[float]]:
        if self.generator is None:
            raise ConfigError("the llm-judge PRM has no model: bind(generator) it or pass generator=")
        keys = [(problem.question, tuple(steps[: i + 1])) for steps in steps_batch for i in range(len(steps))]
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if todo:
            self._judge(problem, todo)
        return [[self._cache[(problem.question, tuple(s[: i + 1]))] for i in range(len(s))] for s in steps_batch]

    def _judge(self, problem: Problem, keys: list[tuple[str, tuple[str, ...]]]) -> None:
        params = SamplingParams(temperature=0.0, max_tokens=1, logprobs=self.top_logprobs)
        outputs = self.generator.generate([self.prompt(problem, steps) for _, steps in keys], params)
        for key, [completion] in zip(keys, outputs):
            self._cache[key] = self.p_yes(completion)

    def prompt(self, problem: Problem, steps: Sequence[str]) -> ChatPrompt:
        listed = "\n\n".join(f"Step {i}: {step}" for i, step in enumerate(steps, 1))
        user = f"Problem: {problem.question}\n\nSolution:\n{listed}\n\n{self.ask.format(index=len(steps))}"
        return ChatPrompt(
            messages=(ChatMessage(role="system", content=self.system), ChatMessage(role="user", content=user))
        )

    def p_yes(self, completion: Completion) -> float:
        """P(yes) / (P(yes) + P(no)) at the first generated token; 0.5 when neither is among the alternatives."""
        if not completion.logprobs:
            return 0.5
        first = completion.logprobs[0]
        seen = {alt.token: alt.logprob for alt in first.top}
        seen.setdefault(first.token, first.logprob)
        p_yes = sum(math.exp(lp) for tok, lp in seen.items() if tok.strip().lower() in self.yes)
        p_no = sum(math.exp(lp) for tok, lp in seen.items() if tok.strip().lower() in self.no)
        return 0.5 if p_yes + p_no == 0.0 else p_yes / (p_yes + p_no)
