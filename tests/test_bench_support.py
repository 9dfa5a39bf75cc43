"""Shared helpers for the bench tests (no tests here): an arithmetic dataset and a scripted model.

The scripted model reads "What is A + B?" out of the prompt and answers it, wrong on
purpose for some samples, so accuracy, votes and pass@k have known values.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from reason.testing import FakeGenerator
from reason.types import SamplingParams


def write_arithmetic(path: Path, count: int) -> Path:
    """count problems "What is i + 2i?" with answers 3i, ids p0, p1, ..."""
    with open(path, "w") as f:
        for i in range(count):
            f.write(json.dumps({"id": f"p{i}", "q": f"What is {i} + {2 * i}?", "a": str(3 * i)}) + "\n")
    return path


class Arithmetic:
    """Responder: per prompt, the k-th sample is right unless k % wrong_every == wrong_every - 1.

    Counting per prompt (not globally) keeps each problem's samples the same however
    problems interleave between threads.
    """

    def __init__(self, wrong_every: int = 0, delay_s: float = 0.0) -> None:
        self.wrong_every = wrong_every
        self.delay_s = delay_s
        self.seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, prompt: str, params: SamplingParams) -> str:
        a, b = map(int, re.search(r"What is (\d+) \+ (\d+)\?", prompt).groups())
        with self._lock:
            k = self.seen.get(prompt, 0)
            self.seen[prompt] = k + 1
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        wrong = self.wrong_every and k % self.wrong_every == self.wrong_every - 1
        return f"{a} plus {b} is computed step by step. The answer is {a + b + (1 if wrong else 0)}."


def arithmetic_generator(wrong_every: int = 0, delay_s: float = 0.0) -> FakeGenerator:
    return FakeGenerator(Arithmetic(wrong_every, delay_s), name="fake-arith")
