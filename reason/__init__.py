"""reason: turn extra inference compute into better answers.

Importing this package is cheap: no vLLM, torch or Ray is imported until a backend
that needs it is built.
"""

from reason.api import Engine, make_generator, make_searcher, solve
from reason.errors import (
    BackendUnavailableError,
    BudgetExceededError,
    ConfigError,
    GeneratorError,
    ModelNotFoundError,
    ReasonError,
    UnknownComponentError,
    VerifierError,
)
from reason.generator import Generator, supports_logprobs, supports_prefix_cache
from reason.registry import registry
from reason.searcher import Searcher
from reason.types import (
    Candidate,
    ChatMessage,
    ChatPrompt,
    Completion,
    Compute,
    Problem,
    Sample,
    SamplingParams,
    SearchResult,
    Verdict,
)

__all__ = [
    "BackendUnavailableError", "BudgetExceededError", "Candidate", "ChatMessage", "ChatPrompt", "Completion",
    "Compute", "ConfigError", "Engine", "Generator", "GeneratorError", "ModelNotFoundError", "Problem",
    "ReasonError", "Sample", "SamplingParams", "SearchResult", "Searcher", "UnknownComponentError", "Verdict",
    "VerifierError", "make_generator", "make_searcher", "registry", "solve", "supports_logprobs",
    "supports_prefix_cache",
]
