"""`reason bench`: run, resume, rescore and sweep benchmarks from the command line.

    reason bench gsm8k --strategy self-consistency --n 8 --limit 200 --out runs/sc8
    reason bench rescore runs/sc8 --vote weighted
    reason bench sweep gsm8k --strategies cot,self-consistency --budgets 256,512,1024 --out runs/sweep
    reason bench gsm8k --ray-address HEAD:6379 --replicas 4 --replica-gpus 1 --out runs/cot-ray
    reason bench sweep math500 --strategies cot,beam --ray-address HEAD:6379 --replicas 4 --replica-gpus 1

`reason bench DATASET ...` is short for `reason bench run DATASET ...`: a first
argument that is not a subcommand name is taken as the dataset of `run`.
Searcher and backend parameters are `--param key=value` / `--backend-opt key=value`
(values parsed as JSON when they parse, else kept as strings).
Leaves out: the top-level `reason` app, which mounts this one as `bench`.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from reason.bench.datasets import dataset_names, load_dataset
from reason.bench.progress import RichProgress
from reason.bench.report import plot_sweep, summary_rows, summary_table, sweep_markdown
from reason.bench.rescore import rescore
from reason.bench.runner import PoolFactory, RunConfig, RunOutcome, run_benchmark
from reason.bench.sweep import SweepConfig, run_sweep
from reason.cli_support import (
    BACKEND_HELP,
    EXIT_INTERRUPTED,
    backend_options,
    check_choices,
    check_out_dir,
    check_ray_address,
    err_console,
    fail,
)
from reason.distributed import RayOptions, ray_pools
from reason.errors import ConfigError, ReasonError
from reason.params import parse_pairs
from reason.thinking import thinking_options
from reason.voting import VOTES

console = Console()


class _RunByDefault(TyperGroup):
    """A group whose unknown first word means `run WORD`: `bench gsm8k` == `bench run gsm8k`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:  # type: ignore[override]  # typer vendors click's types
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)  # type: ignore[arg-type]


bench_app = typer.Typer(
    cls=_RunByDefault,
    name="bench",
    no_args_is_help=True,
    help="Benchmark runs: `reason bench DATASET ...` (= `run`), `rescore RUN_DIR`, `sweep DATASET`.",
)


def _searcher_params(pairs: list[str] | None, n: int | None, temperature: float | None,
                     max_tokens: int | None) -> dict[str, Any]:
    params = parse_pairs(pairs, "--param")
    shortcuts = {"n": n, "temperature": temperature, "max_tokens": max_tokens}
    params.update({k: v for k, v in shortcuts.items() if v is not None})
    return params


def _fail(exc: ReasonError) -> None:
    raise fail(exc) from None


def _preflight(strategies: tuple[str, ...], params: dict[str, Any] | None, task: str | None, backend: str,
               options: dict[str, Any], ray_address: str | None) -> None:
    """Everything the command line alone decides, before a model, a dataset run or a Ray cluster is touched."""
    check_choices(strategies, params, task, backend, options)
    check_ray_address(ray_address)


def _show(outcome: RunOutcome, title: str, quiet: bool, as_json: bool = False) -> None:
    if as_json:
        typer.echo(json.dumps({"run_dir": str(outcome.run_dir), "new_records": outcome.new_records,
                               "summary": outcome.summary.model_dump(mode="json")}))
        return
    if not quiet and console.is_terminal:
        console.print(summary_table(outcome.summary, title))
    elif not quiet:  # piped: plain "metric<TAB>value" lines
        for name, value in summary_rows(outcome.summary):
            typer.echo(f"{name}\t{value}")
    c = outcome.session_cache
    console.print(
        f"{outcome.run_dir}: {outcome.new_records} problems solved now; "
        f"cache this run: {c.hits} completions from cache, {c.generated} generated",
        soft_wrap=True,
    )
    if outcome.summary.failures:
        console.print(f"{outcome.summary.failures} attempts lost to a dead worker or replica were retried (summary.json)")


STRATEGY = typer.Option("cot", "--strategy", "-s", help="A registered searcher (see `reason components`).")
PARAM = typer.Option(None, "--param", "-p", help="Searcher parameter key=value (repeatable).")
BACKEND = typer.Option("vllm", "--backend", "-b", help=BACKEND_HELP["backend"])
MODEL = typer.Option(None, "--model", help=BACKEND_HELP["model"])
BASE_URL = typer.Option(None, "--base-url", help=BACKEND_HELP["base_url"])
BACKEND_OPT = typer.Option(None, "--backend-opt", help=BACKEND_HELP["backend_opt"])
RAY = typer.Option(
    False, "--ray", help="Solve on Ray, model replicas as actors: joins RAY_ADDRESS if set, else starts Ray here."
)
RAY_ADDRESS = typer.Option(None, "--ray-address", help="Join this Ray cluster (HOST:6379); implies --ray.")
REPLICAS = typer.Option(None, "--replicas", min=1, help="Model replicas on Ray (default 1).")
REPLICA_CPUS = typer.Option(None, "--replica-cpus", min=0, help="CPUs per replica (default 1).")
MAX_THINKING = typer.Option(None, "--max-thinking-tokens", min=1,
                            help="Reasoning models: cap every <think> span at this many tokens, then ask for the answer.")
MIN_THINKING = typer.Option(None, "--min-thinking-tokens", min=1,
                            help="Reasoning models: a span closed sooner is told 'Wait' and thinks on (s1).")
REPLICA_GPUS = typer.Option(None, "--replica-gpus", min=0, help="GPUs per replica (default 0; 1 for vLLM on a GPU node).")


@bench_app.command("run")
def run_command(
    dataset: str = typer.Argument(..., help=f"Bundled ({', '.join(dataset_names())}) or a JSONL path."),
    strategy: str = STRATEGY,
    n: int | None = typer.Option(None, "--n", help="Samples (searchers that take n)."),
    temperature: float | None = typer.Option(None, "--temperature", help="Sampling temperature."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Most tokens per generation."),
    param: list[str] | None = PARAM,
    backend: str = BACKEND,
    model: str | None = MODEL,
    base_url: str | None = BASE_URL,
    backend_opt: list[str] | None = BACKEND_OPT,
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first LIMIT problems."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory (default runs/DATASET-STRATEGY)."),
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1, help="Problems in flight at once."),
    verifier: str = typer.Option("match", "--verifier", help="A registered verifier."),
    vote: str | None = typer.Option(None, "--vote", "--aggregate", help=f"Vote rule: {', '.join(VOTES)} (--aggregate: its old name)."),
    question_field: str | None = typer.Option(None, "--question-field", help="JSONL field of the question (default question)."),
    answer_field: str | None = typer.Option(None, "--answer-field", help="JSONL field of the reference answer (default answer)."),
    id_field: str | None = typer.Option(None, "--id-field", help="JSONL field of a problem's id (default: its line)."),
    task: str | None = typer.Option(None, "--task", help="Task style (prompt and extraction), e.g. gsm8k, math."),
    cache: str | None = typer.Option(
        None, "--cache", help="Generation cache file, a path from here (default RUN_DIR/generations.sqlite); "
        "share it between runs."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Generate everything; store nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object (no bar, no table)."),
    ray: bool = RAY,
    ray_address: str | None = RAY_ADDRESS,
    replicas: int | None = REPLICAS,
    replica_cpus: float | None = REPLICA_CPUS,
    replica_gpus: float | None = REPLICA_GPUS,
    max_thinking_tokens: int | None = MAX_THINKING,
    min_thinking_tokens: int | None = MIN_THINKING,
) -> None:
    """Run (or resume) a benchmark: the same command on the same --out continues where it stopped."""
    try:
        ray_options = _ray_options(ray, ray_address, replicas, replica_cpus, replica_gpus)
        params, options = _searcher_params(param, n, temperature, max_tokens), backend_options(backend, model, base_url, backend_opt)
        run_dir = out or Path("runs") / f"{Path(dataset).stem}-{strategy}"
        _preflight((strategy,), params, task, backend, options, ray_address)
        config = RunConfig(
            dataset=dataset, strategy=strategy, params=params,
            backend=backend, backend_options=options, limit=limit,
            concurrency=concurrency, verifier=verifier, vote=vote, question_field=question_field,
            answer_field=answer_field, id_field=id_field, task=task,
            cache=None if no_cache else (_from_here(cache) or RunConfig.model_fields["cache"].default),
            thinking=thinking_options(max_thinking_tokens, min_thinking_tokens),
        )
        load_dataset(config.dataset, config.field_map(), config.task)  # bad data: refused before --out is made
        check_out_dir(run_dir)
        outcome = _with_progress(
            quiet or as_json, f"{dataset} {strategy}",
            lambda p: run_benchmark(config, run_dir, progress=p, pools=_pools(ray_options)),
        )
    except ReasonError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        raise _interrupted(run_dir) from None
    _show(outcome, f"{dataset} · {strategy}", quiet, as_json)


def _interrupted(run_dir: Path) -> typer.Exit:
    """Ctrl-C: say what is kept and how to go on (every finished problem is already on disk)."""
    records = run_dir / "records.jsonl"
    done = len(records.read_text(encoding="utf-8").splitlines()) if records.exists() else 0
    err_console.print(f"interrupted: {done} problems finished and kept in {run_dir}; the same command resumes from there")
    return typer.Exit(code=EXIT_INTERRUPTED)


def _pools(options: RayOptions | None) -> PoolFactory | None:
    return None if options is None else ray_pools(options)


def _from_here(path: str | None) -> str | None:
    """A path typed on the command line is read from the working directory, as every other path there is
    (run.json keeps it absolute; only the default cache is relative to the run folder, so the folder can move)."""
    return None if path is None else str(Path(path).expanduser().resolve())


def _ray_options(ray: bool, address: str | None, replicas: int | None, cpus: float | None,
                 gpus: float | None) -> RayOptions | None:
    chosen: dict[str, Any] = {"address": address, "replicas": replicas, "replica_cpus": cpus, "replica_gpus": gpus}
    given = {key: value for key, value in chosen.items() if value is not None}
    if ray or address is not None:
        return RayOptions(**given)
    if given:
        raise ConfigError("--replicas, --replica-cpus and --replica-gpus need --ray (or --ray-address)")
    return None


@bench_app.command("rescore")
def rescore_command(
    run_dir: Path = typer.Argument(..., help="A finished (or partial) run directory."),
    vote: str | None = typer.Option(None, "--vote", "--aggregate", help=f"Vote rule: {', '.join(VOTES)} (--aggregate: its old name)."),
    verifier: str | None = typer.Option(None, "--verifier", help="Grade with this verifier instead."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Default RUN_DIR/rescore/AGGREGATE-VERIFIER."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object (no bar, no table)."),
) -> None:
    """Re-vote and re-grade a run from its generation cache; generates nothing."""
    try:
        outcome = _with_progress(
            quiet or as_json, f"rescore {run_dir}", lambda p: rescore(run_dir, vote, verifier, out, progress=p)
        )
    except ReasonError as exc:
        _fail(exc)
    _show(outcome, f"rescore · {vote or 'searcher vote'} · {verifier or 'same verifier'}", quiet, as_json)


@bench_app.command("sweep")
def sweep_command(
    dataset: str = typer.Argument(..., help=f"Bundled ({', '.join(dataset_names())}) or a JSONL path."),
    strategies: str = typer.Option("cot,self-consistency", "--strategies", help="Comma-separated searchers."),
    budgets: str = typer.Option(
        "256,512,1024,2048", "--budgets", help="Generated tokens per problem, comma-separated."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first LIMIT problems."),
    param: list[str] | None = PARAM,
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Most tokens per generation."),
    tokens_per_sample: float | None = typer.Option(
        None, "--tokens-per-sample", help="Tokens per solution for the budget table (default: measured by CoT)."
    ),
    backend: str = BACKEND,
    model: str | None = MODEL,
    base_url: str | None = BASE_URL,
    backend_opt: list[str] | None = BACKEND_OPT,
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1, help="Problems in flight at once."),
    verifier: str = typer.Option("match", "--verifier", help="A registered verifier."),
    task: str | None = typer.Option(None, "--task", help="Task style (prompt and extraction), e.g. gsm8k, math."),
    question_field: str | None = typer.Option(None, "--question-field", help="JSONL field of the question (default question)."),
    answer_field: str | None = typer.Option(None, "--answer-field", help="JSONL field of the reference answer (default answer)."),
    id_field: str | None = typer.Option(None, "--id-field", help="JSONL field of a problem's id (default: its line)."),
    out: Path = typer.Option(Path("runs/sweep"), "--out", "-o"),
    plot: Path | None = typer.Option(None, "--plot", help="PNG path (default OUT/sweep.png)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
    ray: bool = RAY,
    ray_address: str | None = RAY_ADDRESS,
    replicas: int | None = REPLICAS,
    replica_cpus: float | None = REPLICA_CPUS,
    replica_gpus: float | None = REPLICA_GPUS,
) -> None:
    """Each strategy at matched generated-token budgets; writes OUT/sweep.md and a PNG plot."""
    try:
        ray_options = _ray_options(ray, ray_address, replicas, replica_cpus, replica_gpus)
        _preflight(_split(strategies, str), None, task, backend, backend_options(backend, model, base_url, backend_opt), ray_address)
        fields = RunConfig(dataset=dataset, strategy="cot", question_field=question_field, answer_field=answer_field,
                           id_field=id_field).field_map()
        load_dataset(dataset, fields, task)
        check_out_dir(out)
        config = SweepConfig(
            dataset=dataset, strategies=_split(strategies, str), budgets=_split(budgets, int), limit=limit,
            common=_searcher_params(param, None, None, max_tokens), tokens_per_sample=tokens_per_sample,
            backend=backend, backend_options=backend_options(backend, model, base_url, backend_opt), verifier=verifier,
            concurrency=concurrency, task=task, question_field=question_field, answer_field=answer_field,
            id_field=id_field,
        )
        with _bars(quiet) as make_bar:
            points = run_sweep(config, out, progress=make_bar, pools=_pools(ray_options))
        table, image = _write_sweep(points, out, plot or out / "sweep.png", dataset)
    except ReasonError as exc:
        _fail(exc)
    console.print(table)
    console.print(f"table: {out / 'sweep.md'}  plot: {image}", soft_wrap=True)


def _write_sweep(points: list, out: Path, plot: Path, dataset: str) -> tuple[str, Path]:
    table = sweep_markdown(points)
    (out / "sweep.md").write_text(table, encoding="utf-8")
    (out / "sweep.json").write_text(json.dumps([p.model_dump() for p in points], indent=2), encoding="utf-8")
    problems = max((p.problems for p in points), default=0)
    return table, plot_sweep(points, plot, f"{dataset} ({problems} problems): accuracy vs generated tokens")


@contextmanager
def _bars(quiet: bool):
    """A factory of one progress bar per sweep run; bars left open by a failing run are closed."""
    bars: list[_SelfClosingProgress] = []

    def make(label: str) -> _SelfClosingProgress | None:
        if quiet:
            return None
        bars.append(_SelfClosingProgress(label, err_console))
        return bars[-1]

    try:
        yield make
    finally:
        for bar in bars:
            bar.__exit__()


def _split(text: str, kind: type) -> tuple:
    try:
        return tuple(kind(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"cannot read {text!r} as a comma-separated list: {exc}") from None


def _with_progress(quiet: bool, label: str, work):
    if quiet:
        return work(None)
    with RichProgress(label, err_console) as progress:
        return work(progress)


class _SelfClosingProgress(RichProgress):
    """A progress bar that opens on `start` and closes itself when the run completes (sweeps run many)."""

    def start(self, total, finished) -> None:
        self.__enter__()
        self._remaining = total - len(finished)
        super().start(total, finished)
        if self._remaining <= 0:
            self.__exit__()

    def advance(self, record) -> None:
        super().advance(record)
        self._remaining -= 1
        if self._remaining <= 0:
            self.__exit__()



if __name__ == "__main__":  # `python -m reason.bench_cli ...` works without the top-level app
    bench_app()
