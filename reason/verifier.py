"""The `Verifier` seam: judge a candidate answer for a problem.

`verify(problem, candidate) -> Verdict`. A wrong answer is a `fail` verdict, never an
exception; a verifier that cannot decide says `error` or `timeout`.
A component takes a verifier as a registered name, a spec (`{"name": "code", "params": {"checks":
["arithmetic"]}}`, as PRMs take theirs), a `Verifier`, or a function `(problem, candidate) -> bool | Verdict`
(`verifier_choice` validates, `as_verifier` builds).
Leaves out: how the decision is made (reference match, SymPy, code, Lean are plugins).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from reason.errors import ConfigError
from reason.registry import ComponentSpec, build_choice, component_choice, registry
from reason.types import Problem, Verdict

UNAVAILABLE = ":unavailable"
"""The end of an `error` verdict's rule when the checker's own tool is missing ("lean:unavailable")."""


def unavailable(verdict: Verdict) -> bool:
    """True when the verifier could not run at all (no Lean, no sandbox): retrying will not help."""
    return verdict.status == "error" and (verdict.rule or "").endswith(UNAVAILABLE)


@runtime_checkable
class Verifier(Protocol):
    name: str

    def verify(self, problem: Problem, candidate: str) -> Verdict: ...


class CallableVerifier:
    """A verifier from a function `(problem, candidate) -> bool | Verdict`."""

    def __init__(self, check: Callable[[Problem, str], bool | Verdict], name: str | None = None) -> None:
        self.check = check
        self.name: str = name or str(getattr(check, "__name__", "callable"))

    def verify(self, problem: Problem, candidate: str) -> Verdict:
        outcome = self.check(problem, candidate)
        if isinstance(outcome, Verdict):
            return outcome
        return Verdict(
            status="pass" if outcome else "fail",
            rule=self.name,
            detail="" if outcome else f"{candidate!r} failed {self.name}",
        )


def verifier_choice(value: Any) -> Any:
    """Validate a verifier given as a registered name, a spec (name and params), a Verifier, or a function."""
    if isinstance(value, (dict, ComponentSpec)):
        return component_choice("verifier", value, Verifier, "verifier", "a Verifier or a function")
    if isinstance(value, str):
        if value not in registry.names("verifier"):
            raise ConfigError(
                f"unknown verifier {value!r}; registered verifiers: {', '.join(registry.names('verifier'))}"
            )
        return value
    if isinstance(value, Verifier) or callable(value):
        return value
    raise ConfigError(f"a verifier is a registered name, a spec (name and params), a Verifier or a function; "
                      f"got {type(value).__name__}")


def as_verifier(choice: Any) -> Verifier:
    choice = verifier_choice(choice)
    if isinstance(choice, str):
        return registry.get("verifier", choice)()
    if isinstance(choice, ComponentSpec):
        built: Verifier = build_choice("verifier", choice)
        return built
    if isinstance(choice, Verifier):
        return choice
    wrapped: Verifier = CallableVerifier(choice)
    return wrapped


def without_reference(problem: Problem) -> Problem:
    return problem.model_copy(update={"answer": None})
