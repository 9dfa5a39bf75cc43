"""`reason bench`: resumable benchmark runs with a compute ledger, a generation cache and sweeps.

Modules, one concern each: `datasets` (bundled and user JSONL), `records` (crash-safe
per-problem log), `grading`, `metrics` (accuracy, maj@k, pass@k), `runner`, `rescore`,
`sweep`, `report` and `progress`. The generation cache and the micro-batcher are generator
wrappers in `reason.backends`; vote rules are `reason.voting`; the command line is
`reason.bench_cli`; a Ray pool (`reason.distributed`) comes in through `runner.ProblemPool`.
Importing this package imports neither vLLM nor matplotlib.
"""

from reason.bench.runner import RunConfig, RunOutcome, run_benchmark

__all__ = ["RunConfig", "RunOutcome", "run_benchmark"]
