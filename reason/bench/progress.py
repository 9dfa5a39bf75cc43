"""A rich progress bar for benchmark runs: done/total, running accuracy, tokens/s, ETA.

Implements the runner's `Progress` protocol. Leaves out: anything that is not display.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from reason.bench.records import ProblemRecord
from reason.types import Problem
from reason.watch import SearchProgress


class RichProgress:
    """Use as a context manager around `run_benchmark(..., progress=this)`."""

    def __init__(self, label: str, console: Console | None = None) -> None:
        self.label = label
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("acc {task.fields[accuracy]}"),
            TextColumn("{task.fields[rate]} tok/s"),
            TextColumn("{task.fields[live]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._correct = self._done = self._tokens = 0
        self._started = time.perf_counter()
        self._searching: dict[str, SearchProgress] = {}
        self._lock = threading.Lock()

    def searching(self, problem: Problem, progress: SearchProgress) -> None:
        """A model call of a search in flight (from its worker thread): the bar shows what is being spent now."""
        with self._lock:
            self._searching[problem.id or ""] = progress
            calls = sum(p.calls for p in self._searching.values())
            samples = sum(p.samples for p in self._searching.values())
        if self._task is not None:
            self._bar.update(self._task, live=f"in flight: {len(self._searching)} problems, {calls} calls, {samples} samples")

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, total: int, finished: Sequence[ProblemRecord]) -> None:
        self._correct = sum(r.correct for r in finished)
        self._done = len(finished)
        self._started = time.perf_counter()
        self._task = self._bar.add_task(self.label, total=total, completed=self._done, **self._fields())  # type: ignore[arg-type]  # rich takes **fields: Any

    def advance(self, record: ProblemRecord) -> None:
        with self._lock:
            self._searching.pop(record.id, None)
        self._done += 1
        self._correct += record.correct
        self._tokens += record.compute.generated_tokens
        if self._task is not None:
            self._bar.update(self._task, advance=1, **self._fields())  # type: ignore[arg-type]  # rich takes **fields: Any

    def _fields(self) -> dict[str, str]:
        accuracy = f"{self._correct / self._done:.1%}" if self._done else "-"
        seconds = time.perf_counter() - self._started
        rate = f"{self._tokens / seconds:.1f}" if self._tokens and seconds > 0 else "-"
        with self._lock:
            live = f"in flight: {len(self._searching)}" if self._searching else ""
        return {"accuracy": accuracy, "rate": rate, "live": live}
