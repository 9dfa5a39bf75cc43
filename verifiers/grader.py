"""The answer grader: is a model's answer the same as the reference?

`Grader.grade(prediction, reference) -> Verdict` (pass / fail / error / timeout, the
rule that decided, and the normalised forms compared). The common case never leaves
the process: normalise, compare normal forms, parse, compare exact rationals or
floats, test identities at sample points, all cached. Only what those tiers cannot
decide, and answers too long to parse inline, go to a SymPy worker process under a
hard time limit (timelimit.py), so a grading returns in bounded time from any thread
or process; a timeout is a `timeout` verdict, never an exception.
`equivalent(a, b)` is the grader as a predicate: the task styles' default, which
groups `0.5`, `1/2` and `\\frac{1}{2}` as one answer in self-consistency votes.
`MathVerifier` is the grader as the "math" verifier plugin.
A prediction that is model text rather than a bare answer ("The answer is 42.", a solution
ending in \\boxed{..}) is read first: the answer it marks last (`reason.extract`'s marker
rules) is what gets graded (`GraderConfig.extract=False` grades the text as it is).
Leaves out: the task styles' own fallbacks (GSM8K's last number): callers who want them
extract with the task style first.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict

from pydantic import Field

from reason.errors import VerifierError
from reason.extract import MARKERS, extract_answer
from reason.types import Frozen, Problem, Verdict
from reason.verifiers.equivalence import (
    APPROXIMATE_PLACES,
    Comparer,
    Decision,
    Undecided,
    compare_texts,
    normalized,
)
from reason.verifiers.latex import read_answer
from reason.verifiers.timelimit import WorkerPool, WorkerTimeout

_SYMPY_ENTRY = "reason.verifiers.symbolic:decide"


class GraderConfig(Frozen):
    time_limit_s: float = Field(default=5.0, gt=0)
    """Hard limit on the work of one grading that runs in the SymPy worker."""
    rel_tol: float = Field(default=1e-9, gt=0, lt=1)
    """Relative tolerance for floating comparisons; rationals always compare exactly."""
    approximate_places: int = Field(default=APPROXIMATE_PLACES, ge=1, le=15)
    """A decimal written with at least this many places is an approximation good to its last place (0.333333 is
    1/3); shorter decimals are exact. Math-Verify's `float_rounding` plays the same part (its default is 6 too)."""
    confirm_identities: bool = False
    """Confirm identities that agreed at every sample point with SymPy too (slower)."""
    max_inline_chars: int = Field(default=2000, ge=1)
    """Longer answers are parsed only in the worker, under the time limit."""
    cache_size: int = Field(default=65536, ge=0)
    """Verdicts remembered per grader (timeouts and errors are not remembered)."""
    extract: bool = True
    """Grade the answer a text marks ("the answer is X", \\boxed{X}, #### X) rather than the whole text."""


class Grader:
    """Grades answers against references.

    Args:
        config: the grader's settings.
        pool: worker processes for the SymPy tier; by default one shared per process.

    Example:
        >>> Grader().grade("0.5", "\\\\dfrac{1}{2}").status
        'pass'
    """

    def __init__(self, config: GraderConfig | None = None, pool: WorkerPool | None = None) -> None:
        self.config = config or GraderConfig()
        self._pool = pool
        self._comparer = Comparer(rel_tol=self.config.rel_tol, confirm_identities=self.config.confirm_identities,
                                  approximate_places=self.config.approximate_places)
        self._cache: OrderedDict[tuple[str, str], Verdict] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def pool(self) -> WorkerPool:
        return self._pool if self._pool is not None else shared_pool()

    def warm(self, wait: bool = False) -> None:
        """Start the SymPy worker now rather than at the first grading that needs it (wait: until it is ready)."""
        self.pool.start(wait=wait)

    def grade(self, prediction: str | None, reference: str) -> Verdict:
        """Compare a predicted answer with the reference answer (a marked answer in model text is read first)."""
        if prediction is None or not prediction.strip():
            return Verdict(status="fail", rule="no-answer", detail="no answer was given")
        key = (prediction, reference)  # the raw text: a cached pair skips the extraction below too
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        marked = extract_answer(prediction, list(MARKERS)) if self.config.extract else None
        try:
            verdict = self._grade(marked or prediction, reference)
        except Exception as exc:  # a grading is a verdict, whatever the input
            return Verdict(status="error", rule="grader", detail=f"{type(exc).__name__}: {exc}"[:300])
        if verdict.status in ("pass", "fail") and self.config.cache_size:
            with self._lock:
                self._cache[key] = verdict
                if len(self._cache) > self.config.cache_size:
                    self._cache.popitem(last=False)
        return verdict

    def equivalent(self, a: str, b: str) -> bool:
        """True when a, graded against b, passes."""
        return self.grade(a, b).passed

    def clear_cache(self) -> None:
        """Forget remembered verdicts, normal forms and parses (for cold-start measurements)."""
        with self._lock:
            self._cache.clear()
        normalized.cache_clear()
        read_answer.cache_clear()

    def _grade(self, prediction: str, reference: str) -> Verdict:
        if max(len(prediction), len(reference)) > self.config.max_inline_chars:
            return self._in_worker(prediction, reference)
        try:
            decision, norm_prediction, norm_reference = compare_texts(prediction, reference, self._comparer)
        except (Undecided, RecursionError):  # RecursionError: a deep tree met a deep caller stack; retry on a fresh one
            return self._in_worker(prediction, reference)
        if not norm_prediction:
            return Verdict(status="fail", rule="no-answer", detail="the answer is empty once normalised")
        return _verdict(decision, norm_prediction, norm_reference)

    def _in_worker(self, prediction: str, reference: str) -> Verdict:
        config = self.config
        try:
            equal, rule, norm_prediction, norm_reference = self.pool.call(
                _SYMPY_ENTRY, prediction, reference, config.rel_tol, config.confirm_identities, config.approximate_places,
                timeout_s=config.time_limit_s,
            )  # fmt: skip
        except WorkerTimeout as exc:
            return Verdict(status="timeout", rule="time-limit", detail=str(exc))
        except VerifierError as exc:
            return Verdict(status="error", rule="worker", detail=str(exc))
        return _verdict(Decision(equal, rule), norm_prediction, norm_reference)


def _verdict(decision: Decision, norm_prediction: str, norm_reference: str) -> Verdict:
    return Verdict(
        status="pass" if decision.equal else "fail", rule=decision.rule, parsed=(norm_prediction, norm_reference)
    )


# -- process-wide defaults ---------------------------------------------------------------------

_shared: dict[int, WorkerPool] = {}
_default: dict[int, Grader] = {}
_lock = threading.Lock()


def shared_pool() -> WorkerPool:
    """The process's SymPy worker pool (a forked child gets its own, not its parent's; a closed one is replaced)."""
    with _lock:
        pool = _shared.get(os.getpid())
        if pool is None or pool.closed:
            pool = _shared[os.getpid()] = WorkerPool(size=1, preload=("reason.verifiers.symbolic",))
            atexit.register(pool.close)
        return pool


def default_grader() -> Grader:
    with _lock:
        grader = _default.get(os.getpid())
        if grader is None:
            grader = _default[os.getpid()] = Grader()
        return grader


def _reset_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # a fork while another thread held it would leave it held forever


os.register_at_fork(after_in_child=_reset_lock_after_fork)


def grade(prediction: str | None, reference: str) -> Verdict:
    """Grade with the default grader. Example: grade("1,000", "1000").status -> 'pass'."""
    return default_grader().grade(prediction, reference)


def equivalent(a: str, b: str) -> bool:
    """The default grader as an equivalence: equivalent("0.5", "\\\\frac{1}{2}") -> True."""
    return default_grader().equivalent(a, b)


class MathVerifier:
    """Verifier "math": the candidate answer against the problem's reference, by the grader.

    Args:
        **config: GraderConfig fields; without any, the shared default grader is used.
    """

    name = "math"

    def __init__(self, **config: object) -> None:
        self.grader = Grader(GraderConfig(**config)) if config else default_grader()  # type: ignore[arg-type]

    def verify(self, problem: Problem, candidate: str) -> Verdict:
        if problem.answer is None:
            return Verdict(status="error", rule=self.name, detail="problem has no reference answer")
        return self.grader.grade(candidate, problem.answer)
