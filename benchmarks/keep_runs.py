"""Keep the runs behind a published figure in the repository: each run's records, slimmed and compressed.

`runs/` is scratch space, gone with the machine; the README's tables must not be. For each run folder this
writes `<into>/<run name>/records.jsonl.gz` (read by `read_records`, so `benchmarks/budget_curves.py` and
`reason show` take the kept folder as they take the run) and copies its `run.json` and `summary.json`.
Slimmed: sample texts, thinking spans and traces are dropped; every answer, grade, score, group and token
count stays, which is all the curves, intervals and AUCs read. A kept folder cannot be resumed or rescored
(no generation cache, no texts): keep a run once it is finished.

    python benchmarks/keep_runs.py runs/gsm8k-test-sc8 runs/gsm8k-test-cot --into benchmarks/kept
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

from reason.bench.records import KEPT_FILE, ProblemRecord, read_records


def slim(record: ProblemRecord) -> ProblemRecord:
    samples = tuple(s.model_copy(update={"text": "", "thinking": None}) for s in record.samples)
    return record.model_copy(update={"samples": samples, "trace": None, "trace_file": None})


def keep(run: Path, into: Path) -> Path:
    target = into / run.name
    target.mkdir(parents=True, exist_ok=True)
    records = sorted(read_records(run), key=lambda r: r.id)
    lines = "".join(slim(r).model_dump_json() + "\n" for r in records)
    (target / KEPT_FILE).write_bytes(gzip.compress(lines.encode(), mtime=0))  # the same bytes for the same run
    for name in ("run.json", "summary.json"):
        if (run / name).is_file():
            shutil.copyfile(run / name, target / name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--into", type=Path, default=Path("benchmarks/kept"))
    args = parser.parse_args()
    for run in args.runs:
        target = keep(run, args.into)
        print(f"{run} -> {target / KEPT_FILE} ({(target / KEPT_FILE).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
