"""Solutions as sequences of steps: splitting on a delimiter, with a step cap.

A step is the text between two delimiters (default: a blank line, which is how
instruction-tuned models separate reasoning steps). Tree searchers generate one step
per model call with the delimiter as a stop string; whole-solution searchers split
after the fact with `split_steps`, so a PRM sees the same units either way.
Leaves out: model-specific step markers ("Step 1:", "ки"); a PRM adds its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from reason.extract import extract_answer

DEFAULT_DELIMITER = "\n\n"
FINAL_RULES = ("hashes", "boxed", "answer_is")
"""Extraction rules that mark a solution as finished (a bare last number does not)."""


def split_steps(text: str, delimiter: str = DEFAULT_DELIMITER, max_steps: int | None = None) -> list[str]:
    """Non-empty, stripped steps; past `max_steps` the rest is merged into the last step.

    Example: split_steps("a\\n\\nb\\n\\n\\n\\nc", max_steps=2) -> ["a", "b\\n\\nc"]
    """
    parts = [part.strip() for part in text.split(delimiter)]
    steps = [part for part in parts if part]
    if max_steps is not None and len(steps) > max_steps:
        head, tail = steps[: max_steps - 1], steps[max_steps - 1 :]
        steps = [*head, delimiter.join(tail)]
    return steps


def step_segments(text: str, delimiter: str) -> list[str]:
    """The text's steps, each carrying the blank steps before it, so that joining them with the delimiter gives the text back.

    Example: step_segments("a\\n\\n\\n\\nb\\n\\n", "\\n\\n") -> ["a", "\\n\\nb\\n\\n"]
    """
    segments: list[str] = []
    pending: list[str] = []
    for part in text.split(delimiter):
        pending.append(part)
        if part.strip():
            segments.append(delimiter.join(pending))
            pending = []
    if pending:  # blank text after the last step belongs to it (or is all there is)
        return [*segments[:-1], delimiter.join([*segments[-1:], *pending])]
    return segments


def join_steps(steps: Sequence[str], delimiter: str = DEFAULT_DELIMITER) -> str:
    """The inverse of `split_steps` for stripped steps. Example: ["a", "b"] -> "a\\n\\nb"."""
    return delimiter.join(steps)


def is_final(text: str, rules: Sequence[str] = FINAL_RULES) -> bool:
    """True when the text states a final answer by one of the given extraction rules.

    Example: is_final("so 3 + 4 = 7. The answer is 7.") -> True; is_final("3 + 4 = 7") -> False
    """
    return extract_answer(text, rules) is not None
