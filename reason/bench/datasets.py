"""Benchmark datasets: the bundled GSM8K / MATH / MATH-500 test sets and any user JSONL.

A dataset is a list of `Problem`s with unique ids. Bundled sets live gzipped in
`reason/data/` beside their licenses; a user file is JSON Lines with a field mapping.
A malformed line is a `DatasetError` naming the file and the line number. A user file's reference written as a
GSM8K worked solution ("... #### 72") stands for its final answer, so GSM8K's own files run as they are.
Leaves out: downloading, train splits and few-shot pools.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from reason.bench.errors import DatasetError
from reason.errors import ConfigError
from reason.extract import after_hashes, last_boxed
from reason.types import Problem

Row = dict


@dataclass(frozen=True)
class FieldMap:
    """Which JSON fields hold the question, the reference answer and the id (None: no such field)."""

    question: str = "question"
    answer: str | None = "answer"
    id: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    problems: tuple[Problem, ...]
    digest: str
    """sha256 of the raw file, so a run records exactly which data it used."""


@dataclass(frozen=True)
class BundledSpec:
    resource: str
    task: str
    question: str
    answer: Callable[[Row], str | None]
    id: Callable[[Row, int], str]


def _gsm8k_answer(row: Row) -> str | None:
    found = after_hashes(str(row.get("answer", "")))
    return found.replace(",", "") if found else None


BUNDLED: dict[str, BundledSpec] = {
    "gsm8k": BundledSpec(
        "gsm8k/test.jsonl.gz", "gsm8k", "question", _gsm8k_answer, lambda row, i: f"gsm8k-test-{i}"
    ),
    "math": BundledSpec(
        "math/test.jsonl.gz", "math", "problem",
        lambda row: last_boxed(str(row.get("solution", ""))), lambda row, i: f"math-test-{row.get('idx', i)}",
    ),
    "math500": BundledSpec(
        "math/math500.jsonl.gz", "math", "problem",
        lambda row: row.get("answer"), lambda row, i: str(row.get("unique_id") or f"math500-{i}"),
    ),
}
"""Bundled test sets by name. Ids are stable across releases (the row index or the set's own id)."""


def dataset_names() -> list[str]:
    return sorted(BUNDLED)


def load_dataset(source: str, fields: FieldMap | None = None, task: str | None = None) -> Dataset:
    """Load a bundled set by name, or a JSONL file by path (with `fields` saying where things are).

    `task` overrides the task style (prompt and extraction); user files default to "gsm8k".
    """
    if source in BUNDLED:
        if fields is not None:
            raise DatasetError(f"field mappings apply to JSONL files, not the bundled {source!r}")
        return _load_bundled(source, task)
    path = Path(source)
    if not path.is_file():
        raise DatasetError(f"no dataset {source!r}: not a bundled name ({', '.join(dataset_names())}) nor a file")
    return _load_user(path, fields or FieldMap(), task or "gsm8k")


def _load_bundled(name: str, task: str | None) -> Dataset:
    spec = BUNDLED[name]
    raw = gzip.decompress((resources.files("reason") / "data" / spec.resource).read_bytes())
    rows = _parse_lines(raw, name)

    def build(row: Row, index: int) -> Problem:
        return Problem(
            question=_text(row, spec.question), answer=spec.answer(row), id=spec.id(row, index), task=task or spec.task
        )

    return Dataset(name, _problems(rows, build, name), hashlib.sha256(raw).hexdigest())


def _load_user(path: Path, fields: FieldMap, task: str) -> Dataset:
    raw = path.read_bytes()
    rows = _parse_lines(raw, str(path))

    def build(row: Row, index: int) -> Problem:
        answer = None if fields.answer is None else _reference(_optional(row, fields.answer))
        ident = _text(row, fields.id) if fields.id else str(index)
        return Problem(question=_text(row, fields.question), answer=answer, id=ident, task=task)

    problems = _problems(rows, build, str(path))
    if not problems:
        raise DatasetError(f"{path}: no problems in it (every line is blank)")
    _all_or_no_answers(problems, rows, str(path), fields.answer)
    return Dataset(path.stem, problems, hashlib.sha256(raw).hexdigest())


def _reference(answer: str | None) -> str | None:
    """A worked solution in GSM8K's format ("... #### 72", as in GSM8K's own train and test files) stands for its
    final answer; any other reference is kept as written."""
    if answer is None or "####" not in answer:
        return answer
    found = after_hashes(answer)
    return found.replace(",", "") if found else answer


def _all_or_no_answers(problems: tuple[Problem, ...], rows: list[tuple[int, Row]], where: str, field: str | None) -> None:
    """A line without its reference among lines with one is an error, not a problem graded wrong."""
    missing = [number for problem, (number, _) in zip(problems, rows) if problem.answer is None]
    if missing and len(missing) < len(problems):
        raise DatasetError(f"{where}:{missing[0]}: no answer in field {field!r} while other lines have one "
                           f"({len(missing)} such lines); fix them, or leave answers out of every line to run ungraded")


def _parse_lines(raw: bytes, where: str) -> list[tuple[int, Row]]:
    """(line number, object) for every non-blank line; a bad line raises with its number."""
    rows = []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{where}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows


def _problems(rows: list[tuple[int, Row]], build: Callable[[Row, int], Problem], where: str) -> tuple[Problem, ...]:
    problems: list[Problem] = []
    seen: dict[str | None, int] = {}
    for index, (number, row) in enumerate(rows):
        try:
            problem = build(row, index)
        except (KeyError, TypeError, ValidationError, ConfigError) as exc:
            raise DatasetError(f"{where}:{number}: {_describe(exc, row)}") from None
        if problem.id in seen:
            raise DatasetError(f"{where}:{number}: duplicate id {problem.id!r} (first on line {seen[problem.id]})")
        seen[problem.id] = number
        problems.append(problem)
    return tuple(problems)


def _text(row: Row, field: str) -> str:
    value = row[field]
    if isinstance(value, (dict, list)) or value is None:
        raise TypeError(f"field {field!r} must be a string or number, got {type(value).__name__}")
    return str(value)


def _optional(row: Row, field: str) -> str | None:
    return _text(row, field) if row.get(field) is not None else None


def _describe(exc: Exception, row: Row) -> str:
    if isinstance(exc, KeyError):
        return f"no field {exc.args[0]!r} (fields: {', '.join(row) or 'none'})"
    if isinstance(exc, ConfigError) and exc.field:
        return f"{exc.field}: {exc.reason}"
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    return str(exc)
