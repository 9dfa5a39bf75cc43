"""`reason show`: the trace explorer page (`reason.page`) for a run, a sweep, a records file or saved searches.

What a path can be:
    a sweep directory     (has sweep.json): the accuracy-vs-compute plot and table, each run openable
    a run directory       (has records.jsonl): its summary and every problem with its tree
    a records.jsonl file  the same, the summary computed from the records (no timing)
    a JSON file           a saved `SearchResult` (`reason solve --json`), a list of them, or one
                          per line (JSON Lines)
Traces a run stored apart (`traces/<id>.json`, for large trees) are read back in, so the page
holds everything. Leaves out: serving the page (it is one file; `reason serve` serves its own).
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reason.bench.errors import RunDirError
from reason.bench.metrics import Summary, summarize
from reason.bench.records import KEPT_FILE, RECORDS_FILE, ProblemRecord, read_records
from reason.bench.report import summary_rows
from reason.bench.runner import SUMMARY_FILE
from reason.errors import ConfigError
from reason.page import Payload, View, ledger_rows, page_html, search_payload, status, tree_view
from reason.types import SearchResult

logger = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"


def load_payload(path: Path) -> Payload:
    """What `path` holds, as a page payload (see the module docstring); a typed error when it is none of those."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist")
    if path.is_dir():
        if (path / SWEEP_FILE).is_file():
            payload = _sweep_payload(path)
        elif (path / RECORDS_FILE).is_file() or (path / KEPT_FILE).is_file():
            payload = {"title": f"reason: {path.name}", "sweep": None, "runs": [_run(path, path.name)]}
        else:
            raise ConfigError(f"{path} is neither a run directory (no {RECORDS_FILE}) nor a sweep ({SWEEP_FILE})")
    elif path.name == RECORDS_FILE or (path.suffix == ".jsonl" and _looks_like_records(path)):
        payload = {"title": f"reason: {path.parent.name or path.name}", "sweep": None, "runs": [_run(path.parent, path.parent.name)]}
    else:
        payload = search_payload(_read_results(path), title=f"reason: {path.name}")
    return {**payload, "generated_by": f"reason {_version()}"}


def _version() -> str:
    try:
        return version("reason-search")
    except PackageNotFoundError:
        return "(not installed)"


def write_page(path: Path, out: Path) -> Path:
    """Write the page for `path` to `out`; returns `out`."""
    html = page_html(load_payload(path))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def default_output(path: Path) -> Path:
    """Where the page goes when no `-o` is given: `explorer.html` inside a directory, else beside the file."""
    path = Path(path)
    return path / "explorer.html" if path.is_dir() else path.with_suffix(".html")


def _looks_like_records(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    try:
        return isinstance(row := json.loads(first), dict) and "verdict" in row and "samples" in row and "id" in row
    except json.JSONDecodeError:
        return False


def _run(run_dir: Path, name: str) -> dict[str, Any]:
    records = read_records(run_dir)
    summary = _summary(run_dir, records)
    return {"name": name, "summary": [list(row) for row in summary_rows(summary)],
            "searches": [record_view(r, run_dir) for r in records]}


def _summary(run_dir: Path, records: list[ProblemRecord]) -> Summary:
    path = run_dir / SUMMARY_FILE
    if path.is_file():
        try:
            stored = Summary.model_validate_json(path.read_text("utf-8"))
            if stored.problems == len(records):
                return stored
        except ValidationError:
            logger.warning("%s is unreadable; the summary is computed from the records", path)
    return summarize(records, 0, 0.0, 0)


def record_view(record: ProblemRecord, run_dir: Path) -> View:
    """One problem of a run, as the page draws it; the verdicts are the ones the run's verifier gave."""
    trace = dict(_trace(record, run_dir))
    tree = trace.pop("tree", None)
    verdicts: dict[str, str] = {}
    for sample in record.samples:
        if sample.answer is not None:
            verdicts.setdefault(sample.answer, "pass" if sample.correct else "fail")
    for candidate in record.candidates:
        verdicts[candidate.answer] = candidate.verdict
    winner = record.candidates[0].sample_indices if record.candidates else ()
    reasoning = record.samples[winner[0]].text if winner and winner[0] < len(record.samples) else ""
    return {
        "id": record.id,
        "question": record.question,
        "reference": record.reference,
        "answer": record.predicted,
        "status": status(record.predicted, record.correct),
        "verdict_detail": record.verdict.detail,
        "strategy": record.strategy,
        "vote": record.vote,
        "reasoning": reasoning,
        "candidates": [{"answer": c.answer, "votes": c.votes, "score": c.score, "verdict": c.verdict}
                       for c in record.candidates],
        "samples": [{"answer": s.answer, "score": s.score, "tokens": s.generated_tokens, "finish": s.finish_reason,
                     "verdict": None if s.answer is None else ("pass" if s.correct else "fail"), "text": s.text}
                    for s in record.samples],
        "ledger": ledger_rows(record.compute, record.cache.hits, record.cache.generated),
        "tree": tree_view(tree, reasoning, record.predicted, verdicts.get),
        "trace": trace,
    }


def _trace(record: ProblemRecord, run_dir: Path) -> dict[str, Any]:
    if record.trace is not None:
        return record.trace
    if record.trace_file is None:
        return {}
    path = run_dir / record.trace_file
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        logger.warning("problem %s: its trace %s is unreadable (%s); shown without it", record.id, path, exc)
        return {}


def _sweep_payload(sweep_dir: Path) -> Payload:
    try:
        points = json.loads((sweep_dir / SWEEP_FILE).read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{sweep_dir / SWEEP_FILE} is not JSON: {exc}") from None
    runs, shown = [], []
    for point in points:
        run_dir = _sweep_run_dir(sweep_dir, point.get("run_dir", ""))
        if run_dir is None:
            logger.warning("sweep %s: run %s is missing; left off the page", sweep_dir, point.get("run_dir"))
            continue
        runs.append(_run(run_dir, run_dir.name))
        shown.append({k: point.get(k) for k in ("strategy", "params", "budget", "mean_generated_tokens", "accuracy",
                                                "problems")} | {"run": len(runs) - 1})
    return {"title": f"reason sweep: {sweep_dir.name}", "sweep": shown, "runs": runs}


def _sweep_run_dir(sweep_dir: Path, recorded: str) -> Path | None:
    """A sweep's run directory: as recorded (relative to where the sweep ran), or under the sweep's runs/."""
    for candidate in (Path(recorded), sweep_dir / "runs" / Path(recorded).name):
        if (candidate / RECORDS_FILE).is_file():
            return candidate
    return None


def _read_results(path: Path) -> list[SearchResult]:
    text = path.read_text("utf-8")
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not JSON or JSON Lines: {exc}") from None
    try:
        results = [SearchResult.model_validate(item) for item in items]
    except ValidationError as exc:
        raise ConfigError(f"{path} does not hold saved search results (reason solve --json): "
                          f"{exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}") from None
    if not results:
        raise ConfigError(f"{path} holds no search results")
    return results
