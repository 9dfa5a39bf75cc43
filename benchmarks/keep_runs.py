"""Keep the runs behind a published figure in the repository: each run's records, slimmed and compressed.

`runs/` is scratch space, gone with the machine; the README's tables must not be. For each run folder this
writes `<into>/<run name>/records.jsonl.gz` (read by `read_records`, so `benchmarks/budget_curves.py` and
`reason show` take the kept folder as they take the run) and copies its `run.json` and `summary.json`.
Slimmed: sample texts, thinking spans and traces are dropped; every answer, grade, score, group and token
count stays, which is all the curves, intervals and AUCs read. A kept folder cannot be resumed or rescored
(no texts): keep a run once it is finished.

`--samples` also keeps the run's generation cache (`generations.jsonl.gz`, every completion with its text):
vLLM's CPU sampling is not batch-invariant, so a concurrent run cannot be regenerated sample for sample, and
a verifier is compared with self-consistency on the very same samples only by rescoring them. `--restore`
rebuilds a kept cache as `<into>/<run name>/generations.sqlite`, for `reason bench ... --cache`.

    python benchmarks/keep_runs.py runs/gsm8k-test-sc8 --samples --into benchmarks/kept
    python benchmarks/keep_runs.py --restore benchmarks/kept/gsm8k-test-sc8 --into runs
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sqlite3
from pathlib import Path

from reason.backends.cache import GenerationCache
from reason.bench.records import KEPT_FILE, ProblemRecord, read_records
from reason.types import Completion

CACHE_FILE, KEPT_CACHE = "generations.sqlite", "generations.jsonl.gz"
COLUMNS = ("key", "model", "prompt", "params", "occurrence", "completions")


def slim(record: ProblemRecord) -> ProblemRecord:
    samples = tuple(s.model_copy(update={"text": "", "thinking": None}) for s in record.samples)
    return record.model_copy(update={"samples": samples, "trace": None, "trace_file": None})


def keep_samples(run: Path, target: Path) -> None:
    db = sqlite3.connect(f"file:{run / CACHE_FILE}?mode=ro", uri=True)
    try:
        rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM completions ORDER BY key").fetchall()
    finally:
        db.close()
    lines = "".join(json.dumps(dict(zip(COLUMNS, row)), ensure_ascii=False) + "\n" for row in rows)
    (target / KEPT_CACHE).write_bytes(gzip.compress(lines.encode(), mtime=0))


def restore(kept: Path, into: Path) -> Path:
    """A kept generation cache as a SQLite cache again; its path."""
    path = into / kept.name / CACHE_FILE
    cache = GenerationCache(path)
    for line in gzip.decompress((kept / KEPT_CACHE).read_bytes()).decode().splitlines():
        row = json.loads(line)
        completions = [Completion.model_validate(c) for c in json.loads(row["completions"])]
        cache.put(row["key"], row["model"], row["prompt"], row["params"], row["occurrence"], completions)
    cache.close()
    return path


def keep(run: Path, into: Path, samples: bool = False) -> Path:
    target = into / run.name
    target.mkdir(parents=True, exist_ok=True)
    records = sorted(read_records(run), key=lambda r: r.id)
    lines = "".join(slim(r).model_dump_json() + "\n" for r in records)
    (target / KEPT_FILE).write_bytes(gzip.compress(lines.encode(), mtime=0))  # the same bytes for the same run
    for name in ("run.json", "summary.json"):
        if (run / name).is_file():
            shutil.copyfile(run / name, target / name)
    if samples:
        keep_samples(run, target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--into", type=Path, default=None, help="default: benchmarks/kept (runs with --restore)")
    parser.add_argument("--samples", action="store_true", help="keep the generation cache too")
    parser.add_argument("--restore", action="store_true", help="rebuild kept generation caches")
    args = parser.parse_args()
    for run in args.runs:
        if args.restore:
            print(f"{run} -> {restore(run, args.into or Path('runs'))}")
            continue
        target = keep(run, args.into or Path("benchmarks/kept"), args.samples)
        print(f"{run} -> {target} ({sum(f.stat().st_size for f in target.iterdir()):,} bytes)")


if __name__ == "__main__":
    main()
