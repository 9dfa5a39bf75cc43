"""reason: turn extra inference compute into better answers.

Importing this package is cheap: no vLLM, torch or Ray is imported until a backend
that needs it is built.
"""

from reason.api import Engine, close_all, make_generator, make_searcher, solve
from reason.budget import Budget
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
from reason.generator import Generator, supports_logprobs, supports_prefix_cache, supports_request_seed
from reason.registry import registry
from reason.reward import PRM
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
from reason.verifier import Verifier

__all__ = [
    # the four seams and the budget
    "Generator", "Searcher", "Verifier", "PRM", "Budget",
    # capability predicates
    "supports_logprobs", "supports_prefix_cache", "supports_request_seed",
    # the API
    "Engine", "solve", "close_all", "make_generator", "make_searcher", "registry",
    # data
    "Candidate", "ChatMessage", "ChatPrompt", "Completion", "Compute", "Problem", "Sample", "SamplingParams",
    "SearchResult", "Verdict",
    # errors
    "ReasonError", "ConfigError", "UnknownComponentError", "BackendUnavailableError", "BudgetExceededError",
    "GeneratorError", "ModelNotFoundError", "VerifierError",
]
