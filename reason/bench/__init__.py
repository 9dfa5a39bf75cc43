"""`reason bench`: resumable benchmark runs with a compute ledger, a generation cache and sweeps.

Modules, one concern each: `datasets` (bundled and user JSONL), `records` (crash-safe
per-problem log), `cache` (SQLite generation cache), `batching` (merging concurrent
calls), `aggregate` (vote rules), `grading`, `metrics` (accuracy, maj@k, pass@k),
`runner`, `rescore`, `sweep`, `report`, `progress` and `cli`.
Importing this package imports neither vLLM nor matplotlib.
"""

from reason.bench.runner import RunConfig, RunOutcome, run_benchmark

__all__ = ["RunConfig", "RunOutcome", "run_benchmark"]
