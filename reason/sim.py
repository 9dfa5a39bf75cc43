"""A simulated reasoning environment: problems with known answers, a policy with known error rates, a PRM of known
quality, token logprobs with a known amount of signal. Searchers run on it unchanged (it is a `Generator` and a
PRM), so their behaviour can be checked against closed forms and the papers' qualitative results, and their
accuracy-vs-tokens curves drawn, without a model.

The world (`SimConfig`, everything deterministic under `seed`):
- problem i ("sim problem i", task gsm8k) has answer 1000 + i and a per-step success probability p_i drawn
  from Beta(a, b) (`difficulty`): its difficulty;
- a solution is `steps` steps of `step_tokens` words, separated by the task's step delimiter; the last one says
  "The answer is X.". Each step is sound with probability p_i while every step before it was; after the first
  flawed step every later one is flawed too (errors propagate), and the stated answer is then a wrong one,
  drawn from `distractors` wrong answers with Zipf weights 1/r^`zipf` (so wrong votes collide, as they do);
- a step's first word says whether it is sound ("holds: ..." / "slips: ..."): the simulated PRM reads that as the
  truth and blurs it with Gaussian noise set by its AUC (`SimPRM(auc=...)`: scores Phi(z), z ~ N(+-d/2, 1),
  d = sqrt(2) Phi^-1(AUC)); the noise of a step is a function of its text, so a step scores the same every time;
- with `logprobs` asked for, every token comes with five top candidates whose mean log-probability is
  -(2 + `signal`) in a sound step and -2 in a flawed one (plus small noise): DeepConf's token confidence (minus
  that mean: high where the distribution is peaked) is then exactly `signal` higher where the model is right.
A prompt's state is read back from its text (the steps already written, and a step cut mid-way, which is
finished first), so stepwise searchers, chunked continuations (DeepConf online) and whole-solution samplers all
work. Sampling is one seeded generator per `SimGenerator`.

Closed forms the tests use: a sample is right with probability q_i = p_i^steps; `majority_accuracy` is the
multinomial probability that the right answer wins a vote of n, and `pass_at` the chance that one of n is right.
Leaves out: recovery from an error, answers written in more than one form, problem-specific step lengths.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from statistics import NormalDist

from pydantic import Field

from reason.generator import render_transcript
from reason.types import EOS, Completion, Frozen, Problem, Prompt, SamplingParams, TokenLogprob, TopLogprob

_PROBLEM = re.compile(r"sim problem (\d+)")
_NORMAL = NormalDist()


class SimConfig(Frozen):
    """The simulated world (see the module docstring)."""

    seed: int = 0
    steps: int = Field(default=4, ge=1)
    """Steps per solution, the last one stating the answer."""
    step_tokens: int = Field(default=16, ge=4)
    difficulty: tuple[float, float] = (3.0, 1.0)
    """Beta(a, b) of the per-step success probability (mean a / (a + b))."""
    distractors: int = Field(default=4, ge=1)
    zipf: float = Field(default=1.0, ge=0)
    signal: float = Field(default=0.0, ge=0)
    """How much higher a sound step's token confidence is than a flawed one's (nats)."""
    delimiter: str = "\n\n"


@dataclass(frozen=True)
class SimProblem:
    index: int
    step_success: float
    answer: int
    wrong: tuple[int, ...]
    wrong_weights: tuple[float, ...]

    @property
    def problem(self) -> Problem:
        return Problem(question=f"sim problem {self.index}", answer=str(self.answer), id=f"sim-{self.index}")


@dataclass
class SimWorld:
    """The problems of a `SimConfig`, and the closed forms over them."""

    config: SimConfig = field(default_factory=SimConfig)

    def problem(self, index: int) -> SimProblem:
        rng = random.Random(f"{self.config.seed}/problem/{index}")
        a, b = self.config.difficulty
        answer = 1000 + index
        weights = [1 / (r + 1) ** self.config.zipf for r in range(self.config.distractors)]
        total = sum(weights)
        wrong = tuple(answer + 7 * (r + 1) for r in range(self.config.distractors))
        return SimProblem(index, rng.betavariate(a, b), answer, wrong, tuple(w / total for w in weights))

    def problems(self, count: int) -> list[Problem]:
        return [self.problem(i).problem for i in range(count)]

    def solved(self, index: int) -> float:
        """q_i: the chance one sample of problem i is right."""
        return self.problem(index).step_success ** self.config.steps

    def answer_distribution(self, index: int) -> list[float]:
        """P(right answer), then P(each wrong answer), for one sample of problem i."""
        q = self.solved(index)
        return [q, *((1 - q) * w for w in self.problem(index).wrong_weights)]

    def pass_at(self, index: int, n: int) -> float:
        return 1 - (1 - self.solved(index)) ** n

    def majority_accuracy(self, index: int, n: int) -> tuple[float, float]:
        """(P(the right answer has strictly the most votes of n), P(it has at least as many as any other)):
        the multinomial majority formula; the searcher's tie-break falls between the two."""
        probabilities = self.answer_distribution(index)
        strict = weak = 0.0
        for counts in _compositions(n, len(probabilities)):
            best_other = max(counts[1:], default=0)
            if counts[0] < best_other or counts[0] == 0:
                continue
            chance = _multinomial(counts, probabilities)
            weak += chance
            if counts[0] > best_other:
                strict += chance
        return strict, weak


def _compositions(n: int, parts: int) -> list[tuple[int, ...]]:
    """Every way to put n votes into `parts` ordered bins."""
    out = []
    for cuts in itertools.combinations(range(n + parts - 1), parts - 1):
        bounds = (-1, *cuts, n + parts - 1)
        out.append(tuple(bounds[i + 1] - bounds[i] - 1 for i in range(parts)))
    return out


def _multinomial(counts: tuple[int, ...], probabilities: Sequence[float]) -> float:
    coefficient = math.factorial(sum(counts))
    for c in counts:
        coefficient //= math.factorial(c)
    return coefficient * math.prod(p**c for p, c in zip(probabilities, counts))


class SimGenerator:
    """The simulated policy: a `Generator` (see the module docstring). `supports_logprobs` is True."""

    supports_logprobs = True
    supports_prefix_cache = False
    supports_request_seed = False

    def __init__(self, config: SimConfig | None = None, name: str = "sim") -> None:
        self.config = config or SimConfig()
        self.world = SimWorld(self.config)
        self.name = name
        self._rng = random.Random(f"{self.config.seed}/policy")
        self._nonce = itertools.count()

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        return [[self._complete(render_transcript(p), params) for _ in range(params.n)] for p in prompts]

    def close(self) -> None:
        pass

    def _complete(self, prompt: str, params: SamplingParams) -> Completion:
        found = _PROBLEM.search(prompt)
        if found is None:
            raise ValueError("a simulated prompt names its problem: 'sim problem <i>'")
        problem = self.world.problem(int(found.group(1)))
        prefix = prompt.rsplit("assistant:", 1)[-1]
        segments = prefix.split(self.config.delimiter)
        written = [seg.strip() for seg in segments if seg.strip()]
        partial = written.pop() if written and not written[-1].endswith(".") else None  # a step cut mid-way
        flawed = any(seg.startswith(_FLAWED) for seg in written) or bool(partial and partial.startswith(_FLAWED))
        pieces: list[tuple[str, bool]] = []  # (text, flawed), the delimiters included as pieces of their own
        if partial is not None:
            rest = self._step(problem, len(written), flawed).split()[len(partial.split()):]
            pieces.append((" " + " ".join(rest), flawed))
        for index in range(len(written) + (partial is not None), self.config.steps):
            flawed = flawed or self._rng.random() >= problem.step_success
            if pieces or (written and not prefix.endswith(self.config.delimiter)):  # after a whole step: a delimiter
                pieces.append((self.config.delimiter, flawed))
            pieces.append((self._step(problem, index, flawed), flawed))
        return self._cut(pieces, prompt, params)

    def _step(self, problem: SimProblem, index: int, flawed: bool) -> str:
        """One step; its first word says whether it is sound, so a step cut anywhere still says it."""
        nonce = next(self._nonce)
        mark = _FLAWED if flawed else _SOUND
        last = index == self.config.steps - 1
        filler = " ".join(f"w{(nonce * 7 + k) % 97}" for k in range(self.config.step_tokens - (6 if last else 4)))
        if not last:
            return f"{mark}: step {index + 1} ({filler}) done."  # step_tokens words
        answer = self._rng.choices(problem.wrong, problem.wrong_weights)[0] if flawed else problem.answer
        return f"{mark}: so ({filler}) the answer is {answer}."

    def _cut(self, pieces: list[tuple[str, bool]], prompt: str, params: SamplingParams) -> Completion:
        """The pieces as one completion, cut at the first stop string or at max_tokens words, like a backend."""
        text = "".join(t for t, _ in pieces)
        stop_reason: str | None = EOS
        hits = [(text.find(stop), stop) for stop in params.stop if stop and stop in text]
        if hits:
            at, stop_reason = min(hits)
            text = text[:at]
        words = [(m.group(0), m.end()) for m in re.finditer(r"\S+", text)]
        finish = "stop"
        if len(words) > params.max_tokens:
            text, finish, stop_reason = text[: words[params.max_tokens - 1][1]], "length", None
            words = words[: params.max_tokens]
        flags = _word_flags(pieces)
        logprobs = self._logprobs([w for w, _ in words], flags) if params.logprobs is not None else None
        return Completion(text=text, token_ids=(), prompt_token_ids=(), logprobs=logprobs, finish_reason=finish,
                          stop_reason=stop_reason, prompt_tokens=len(prompt.split()), generated_tokens=len(words))

    def _logprobs(self, words: list[str], flags: list[bool]) -> tuple[TokenLogprob, ...]:
        """Each token with five top candidates whose mean log-probability is -(2 + signal) in a sound step and -2 in
        a flawed one: DeepConf's token confidence (minus that mean) is `signal` higher where the model is right."""
        out = []
        for word, flawed in zip(words, flags):
            level = -2.0 - (0.0 if flawed else self.config.signal)
            # model_construct, and one candidate object five times: these are built by the hundred thousand
            candidate = TopLogprob.model_construct(token=word, logprob=level + self._rng.gauss(0, 0.05))
            out.append(TokenLogprob.model_construct(token=word, logprob=candidate.logprob, top=(candidate,) * 5))
        return tuple(out)


_SOUND, _FLAWED = "holds", "slips"


def _word_flags(pieces: list[tuple[str, bool]]) -> list[bool]:
    """Per word of the joined pieces, whether it belongs to a flawed step."""
    return [flawed for text, flawed in pieces for _ in text.split()]


class SimPRM:
    """A process reward model of known quality: `auc` is the chance a sound step outscores a flawed one.

    Example:
        >>> SimPRM(auc=1.0).score(None, [["holds: step 1 (w) done.", "slips: step 2 (w) done."]])
        [[1.0, 0.0]]
    """

    name = "sim"

    def __init__(self, auc: float = 0.8, seed: int = 0) -> None:
        if not 0.5 <= auc <= 1.0:
            raise ValueError("auc is between 0.5 (no better than chance) and 1.0 (perfect)")
        self.auc, self.seed = auc, seed

    @cached_property
    def separation(self) -> float:
        return math.sqrt(2) * _NORMAL.inv_cdf(self.auc) if self.auc < 1.0 else math.inf

    def score(self, problem: object, steps_batch: Sequence[Sequence[str]]) -> list[list[float]]:
        return [[self._one(step) for step in steps] for steps in steps_batch]

    def _one(self, step: str) -> float:
        sound = step.lstrip().startswith(_SOUND)
        if math.isinf(self.separation):
            return 1.0 if sound else 0.0
        digest = hashlib.blake2b(f"{self.seed}/{step}".encode(), digest_size=8).digest()
        noise = random.Random(int.from_bytes(digest, "big")).gauss(0, 1)
        return _NORMAL.cdf((self.separation / 2 if sound else -self.separation / 2) + noise)
