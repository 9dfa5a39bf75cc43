"""Typed errors for `reason`, all under one root.

A caller catches `ReasonError` to handle anything the engine raises on purpose;
the CLI turns these into one-line messages instead of tracebacks. A wrong answer
is never an error here: verifiers return a `Verdict` for that.
"""

from __future__ import annotations


class ReasonError(Exception):
    """Root of every error `reason` raises deliberately."""


class ConfigError(ReasonError, ValueError):
    """A parameter or configuration value is invalid.

    `field` and `reason` are set when a model's field was refused (field "budget.tokens").
    """

    def __init__(self, message: str, field: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.field, self.reason = field, reason or message


class UnknownComponentError(ReasonError, KeyError):
    """A registry lookup named something that is not registered.

    The message lists what is registered, so a typo is easy to fix.
    """

    def __init__(self, group: str, name: str, known: list[str], detail: str = "") -> None:
        self.group, self.name, self.known = group, name, known
        listing = ", ".join(sorted(known)) or "(none)"
        super().__init__(f"unknown {group} {name!r}; registered {group}s: {listing}{detail}")

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0])


class ModelNotFoundError(ReasonError):
    """A model path does not exist or holds no loadable model."""


class GeneratorError(ReasonError):
    """A generation backend failed to produce completions."""


class BackendUnavailableError(GeneratorError):
    """A backend cannot be reached or started (server down, package missing)."""


class BudgetExceededError(ReasonError):
    """A searcher was asked to spend more compute than its budget allows."""


class PRMError(ReasonError):
    """A process reward model could not score (bad output shape, step markers missing)."""


class VerifierError(ReasonError):
    """A verifier could not be set up (a verdict of `error` is not this)."""
