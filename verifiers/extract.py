"""Final-answer extraction from free model text.

Each rule is a small function `text -> str | None`; a task style lists which rules
apply, in order, and the first that finds something wins. Leaves out: normalising
what it finds (that is the grader's job) — the raw answer string is returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from reason.errors import ConfigError

Rule = Callable[[str], str | None]

_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?|-?\.\d+"


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), nested braces respected.

    Example: "so \\boxed{\\frac{1}{2}}." -> "\\frac{1}{2}"
    """
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    while start != -1:
        found = _braced_after(text, start)
        if found is not None:
            return found
        start = max(text.rfind("\\boxed", 0, start), text.rfind("\\fbox", 0, start))
    return None


def _braced_after(text: str, start: int) -> str | None:
    open_at = text.find("{", start)
    if open_at == -1 or text[start:open_at].strip() not in ("\\boxed", "\\fbox"):
        return None
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i].strip()
    return None  # unbalanced: no answer rather than a torn one


def after_hashes(text: str) -> str | None:
    """GSM8K's `#### 42` marker. Example: "... #### 1,234" -> "1,234"."""
    matches = re.findall(r"####\s*([^\n]+)", text)
    return matches[-1].strip() if matches else None


_ANSWER_IS = re.compile(
    r"(?:the\s+(?:final\s+)?answer\s+is|final\s+answer\s*(?:is)?\s*:?)\s*:?\s*(.+?)(?:\.\s|\.?$|\n)",
    re.IGNORECASE | re.MULTILINE,
)


def answer_is(text: str) -> str | None:
    """'The answer is X' / 'Final answer: X' (the last such phrase). Example: "The answer is 7." -> "7"."""
    matches = _ANSWER_IS.findall(text)
    if not matches:
        return None
    found = matches[-1].strip().strip("*").strip()
    return found or None


def last_number(text: str) -> str | None:
    """The last number in the text, GSM8K-style fallback. Example: "3 apples, then 12" -> "12"."""
    matches = re.findall(_NUMBER, text)
    return matches[-1].rstrip(".") if matches else None


RULES: dict[str, Rule] = {
    "boxed": last_boxed,
    "hashes": after_hashes,
    "answer_is": answer_is,
    "last_number": last_number,
}
"""Every extraction rule by name; task styles refer to these names."""


def extract_answer(text: str, rules: Sequence[str]) -> str | None:
    """Apply the named rules in order; the first non-empty result wins."""
    for name in rules:
        try:
            rule = RULES[name]
        except KeyError:
            raise ConfigError(f"unknown extraction rule {name!r}; rules: {', '.join(RULES)}") from None
        found = rule(text)
        if found:
            return found
    return None
