"""Per-problem records: one JSON line per finished problem, crash-safe and resumable.

`RecordLog` is the single writer of a run's `records.jsonl`. Each record is written
with one `write` of the whole line (newline included), then flushed and fsynced, so
a SIGKILL at any moment leaves every finished record intact and at most one torn
last line. Opening the log again repairs that line (a complete object that only lost
its newline is kept; anything else is cut off) and returns the finished ids, so the
run skips them. An exclusive `flock` on the run directory stops two processes from
appending to the same log; the kernel drops it when the holder dies.
Leaves out: compaction and multi-writer merging.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator

from reason.bench.errors import RunDirError
from reason.types import Compute, Frozen, Verdict

logger = logging.getLogger(__name__)

RECORDS_FILE = "records.jsonl"
KEPT_FILE = "records.jsonl.gz"
"""A finished run's records, compressed and possibly slimmed (benchmarks/keep_runs.py): read, never appended to."""
LOCK_FILE = ".lock"


class CandidateRecord(Frozen):
    answer: str
    votes: int
    score: float | None = None
    sample_indices: tuple[int, ...] = ()
    correct: bool
    verdict: str
    """The verifier's status for this answer: pass, fail, error or timeout."""


class SampleRecord(Frozen):
    text: str
    answer: str | None
    finish_reason: str
    generated_tokens: int
    score: float | None = None
    correct: bool
    group: int | None = None
    """Which distinct answer of this problem the sample gave (task equivalence, first-seen order);
    None when it gave none. maj@k votes by these, whatever vote rule picked the prediction."""
    thinking: str | None = None
    """A reasoning model's thinking span behind `text`, under a thinking budget (the run's `thinking`)."""


class CacheCounts(Frozen):
    hits: int = 0
    """Completions served from the generation cache."""
    generated: int = 0
    """Completions the backend produced for this problem."""
    generated_tokens: int = 0
    """Tokens the backend produced for this problem: the compute ledger's generated tokens less those of
    completions served from the cache. Throughput (generated tokens/s) is measured on these."""

    @classmethod
    def counted(cls, counting: Any) -> CacheCounts:
        """What a `CachingGenerator` counted for one problem."""
        hits, generated, tokens = counting.counts()
        return cls(hits=hits, generated=generated, generated_tokens=tokens)

    def __add__(self, other: CacheCounts) -> CacheCounts:
        return CacheCounts(hits=self.hits + other.hits, generated=self.generated + other.generated,
                           generated_tokens=self.generated_tokens + other.generated_tokens)


class ProblemRecord(Frozen):
    """Everything about one finished problem; the unit of resume and of rescoring."""

    id: str
    question: str
    reference: str | None
    predicted: str | None
    correct: bool
    verdict: Verdict
    strategy: str
    vote: str | None
    """The vote rule that picked `predicted` (None: the searcher's own choice)."""

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return renamed_vote(data)
    candidates: tuple[CandidateRecord, ...]
    samples: tuple[SampleRecord, ...]
    compute: Compute
    """Tokens and calls, policy and PRM separately, as the searcher's metered generator counted them."""
    cache: CacheCounts
    wall_time_s: float
    trace: dict[str, Any] | None = None
    trace_file: str | None = None
    """Set instead of `trace` when the trace was too large to inline (path relative to the run dir)."""


class RecordLog:
    """The append-only record file of one run directory, held under an exclusive lock.

    Example:
        >>> with RecordLog(run_dir) as log:        # doctest: +SKIP
        ...     done = log.finished                # id -> ProblemRecord, torn tail repaired
        ...     log.append(record)
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / RECORDS_FILE
        self.finished: dict[str, ProblemRecord] = {}
        self._fd: int | None = None
        self._lock_fd: int | None = None

    def __enter__(self) -> RecordLog:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        self.finished = _recover(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, record: ProblemRecord) -> None:
        if self._fd is None:
            raise RunDirError("record log is not open")
        if record.id in self.finished:
            raise RunDirError(f"problem {record.id!r} already has a record in {self.path}")
        data = (record.model_dump_json() + "\n").encode("utf-8")
        written = os.write(self._fd, data)
        if written != len(data):  # a short write on a regular file means the disk is full
            raise RunDirError(f"short write to {self.path} ({written} of {len(data)} bytes)")
        os.fsync(self._fd)
        self.finished[record.id] = record

    def close(self) -> None:
        for attr in ("_fd", "_lock_fd"):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)  # closing the lock file releases the flock
                setattr(self, attr, None)

    def _lock(self) -> None:
        fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirError(f"{self.run_dir} is in use by another run (lock held)") from None
        self._lock_fd = fd


def read_records(run_dir: Path) -> list[ProblemRecord]:
    """Records of a run, read-only: a torn last line (a run killed mid-write) is ignored, not repaired.
    A folder with only a kept copy (`records.jsonl.gz`) is read from it."""
    path, kept = Path(run_dir) / RECORDS_FILE, Path(run_dir) / KEPT_FILE
    if not path.is_file() and kept.is_file():
        records, _ = _parse(gzip.decompress(kept.read_bytes()), kept)
        return list(records.values())
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no {RECORDS_FILE}")
    records, _ = _parse(path.read_bytes(), path)
    return list(records.values())


def _recover(path: Path) -> dict[str, ProblemRecord]:
    if not path.exists():
        return {}
    raw = path.read_bytes()
    records, good_length = _parse(raw, path)
    if good_length < len(raw):
        torn = len(raw) - good_length
        logger.warning("%s: cutting a torn last line (%d bytes) left by an interrupted run", path, torn)
        with open(path, "r+b") as f:
            f.truncate(good_length)
            f.flush()
            os.fsync(f.fileno())
    elif raw and not raw.endswith(b"\n"):  # a whole record that lost only its newline
        with open(path, "ab") as f:
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
    return records


def _parse(raw: bytes, path: Path) -> tuple[dict[str, ProblemRecord], int]:
    """Records by id, and the byte length of the intact prefix (everything but a torn tail)."""
    records: dict[str, ProblemRecord] = {}
    lines = raw.split(b"\n")
    offset = 0
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        if not line.strip():
            offset += len(line) + (0 if last else 1)
            continue
        record = _parse_line(line, path, number, tolerate=last)
        if record is None:
            return records, offset
        if record.id in records:
            raise RunDirError(f"{path}:{number}: duplicate record for problem {record.id!r}")
        records[record.id] = record
        offset += len(line) + (0 if last else 1)
    return records, offset


def _parse_line(line: bytes, path: Path, number: int, tolerate: bool) -> ProblemRecord | None:
    try:
        return ProblemRecord.model_validate(json.loads(line))
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
        if tolerate:  # only an unterminated last line can be torn by a kill
            return None
        raise RunDirError(f"{path}:{number}: corrupt record ({type(exc).__name__}); not a torn last line") from None


def renamed_vote(data: Any) -> Any:
    """Records and run files written before 2026-12 call the vote rule "aggregate"."""
    if isinstance(data, dict) and "aggregate" in data and "vote" not in data:
        data = {("vote" if k == "aggregate" else k): v for k, v in data.items()}
    return data
