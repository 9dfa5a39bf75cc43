"""A sample's confidence from its token logprobs (DeepConf, Fu et al. 2025): the measures by name.

Token confidence is minus the mean log-probability of the top-k candidate tokens at a position (high when
the distribution is peaked). A trace's confidence: "lowest-group" (the weakest mean over any `window`
consecutive tokens), "bottom-10-group" (the mean of the lowest 10% of those), "tail" (the last `window`
tokens), "average" (the whole trace). `keep_threshold` is the filter's bar: the confidence at the
(1 - keep) percentile. Each follows the DeepConf authors' own code (their `deepconf` package, checked
against it in tests/test_deepconf_reference.py): the bottom 10% is int(10% of the windows), at least one;
percentiles interpolate linearly between ranks, as numpy's do.
Leaves out: choosing what to do with it (`deepconf` filters and weighs; the "confidence" vote rule weighs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from reason.types import TokenLogprob

Measure = Literal["lowest-group", "bottom-10-group", "tail", "average"]
SAMPLE_WINDOW = 64
"""The window of the confidence every sample with logprobs carries (`Sample.confidence`)."""


def token_confidence(token: TokenLogprob) -> float:
    """Minus the mean log-probability of the position's top candidates (the token itself when none are given)."""
    values = [t.logprob for t in token.top] or [token.logprob]
    return -sum(values) / len(values)


def group_confidences(tokens: Sequence[TokenLogprob], window: int) -> list[float]:
    """The mean token confidence of every `window` consecutive tokens (one group for a shorter trace)."""
    confidences = [token_confidence(t) for t in tokens]
    if len(confidences) <= window:
        return [sum(confidences) / len(confidences)] if confidences else []
    running = sum(confidences[:window])
    groups = [running / window]
    for i in range(window, len(confidences)):
        running += confidences[i] - confidences[i - window]
        groups.append(running / window)
    return groups


def trace_confidence(tokens: Sequence[TokenLogprob], measure: Measure, window: int) -> float:
    if not tokens:
        return 0.0
    if measure == "average":
        return sum(token_confidence(t) for t in tokens) / len(tokens)
    if measure == "tail":
        tail = tokens[-window:]
        return sum(token_confidence(t) for t in tail) / len(tail)
    groups = group_confidences(tokens, window)
    if measure == "lowest-group":
        return min(groups)
    lowest = sorted(groups)[: max(1, int(0.1 * len(groups)))]
    return sum(lowest) / len(lowest)


def keep_threshold(confidences: Sequence[float], keep: float) -> float:
    """The bar a trace's confidence must reach to be in the `keep` share: the (1 - keep) percentile.

    Example: keep_threshold([1, 2, 3, 4], 0.5) -> 2.5 (two of four reach it)
    """
    ranked = sorted(confidences)
    if not ranked:
        return 0.0
    position = (len(ranked) - 1) * (1 - keep)
    below = math.floor(position)
    above = min(below + 1, len(ranked) - 1)
    return ranked[below] + (ranked[above] - ranked[below]) * (position - below)
