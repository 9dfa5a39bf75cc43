"""`reason prm`: data for a trained verifier, from the policy's own benchmark runs.

    reason prm data runs/sc8-train --out data/train.jsonl                    # outcome labels
    reason prm data runs/sc8-train --out data/train.jsonl --rollouts 4      # and Math-Shepherd step labels

    reason prm train data/train.jsonl --out models/verifier                   # a value head over the policy

Leaves out: fine-tuning the policy itself (GPU), and the shipped verifier (see the trained-verifier issue).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reason.bench.runner import read_run_file
from reason.cli_support import BACKEND_HELP, backend_options, check_out_dir, check_out_file, err_console, fail
from reason.errors import ConfigError, ReasonError

prm_app = typer.Typer(no_args_is_help=True, help="Training data for a verifier, from the policy's own runs.")


@prm_app.command("data")
def data(
    runs: Annotated[list[Path], typer.Argument(help="Benchmark run folders (reason bench run --out ...).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The JSONL file rows are appended to (the same command resumes).")],
    rollouts: Annotated[int, typer.Option(min=0, help="Completions per step prefix for step labels (0: outcome labels only).")] = 0,
    max_tokens: Annotated[int, typer.Option(min=1, help="Most tokens per rollout.")] = 256,
    temperature: Annotated[float, typer.Option(min=0.01, help="Rollout sampling temperature.")] = 0.7,
    token_budget: Annotated[int | None, typer.Option(min=1, help="Most rollout tokens to generate; later samples keep outcome labels only.")] = None,
    backend: Annotated[str, typer.Option("--backend", "-b", help=BACKEND_HELP["backend"])] = "vllm",
    model: Annotated[str | None, typer.Option(help=BACKEND_HELP["model"] + " Default: the runs' own model.")] = None,
    base_url: Annotated[str | None, typer.Option(help=BACKEND_HELP["base_url"])] = None,
    backend_opt: Annotated[list[str], typer.Option("--backend-opt", help=BACKEND_HELP["backend_opt"])] = [],  # noqa: B006
) -> None:
    """Label every sample of the runs: its outcome, and with --rollouts the share of rollouts from each step that end right."""
    from reason.api import make_generator
    from reason.prm_data import DataConfig, build_data, read_rows

    try:
        config = DataConfig(rollouts=rollouts, max_tokens=max_tokens, temperature=temperature, token_budget=token_budget)
        models = {str(read_run_file(run).get("model")) for run in runs}  # every run checked before any work
        check_out_file(out, "--out")
        generator = None
        if rollouts:
            policy = model or (models.pop() if len(models) == 1 and backend == "vllm" else None)
            generator = make_generator(backend, **backend_options(backend, policy, base_url, backend_opt))
        try:
            written = build_data(runs, out, config, generator)
        finally:
            if generator is not None:
                generator.close()
    except ReasonError as exc:
        raise fail(exc) from None
    rows = read_rows(out)
    labelled = sum(r.step_labels is not None for r in rows)
    err_console.print(f"{written} rows written; {out} holds {len(rows)} ({sum(r.correct for r in rows)} right, "
                      f"{labelled} with step labels)", soft_wrap=True)
    typer.echo(str(out))


@prm_app.command("train")
def train(
    data: Annotated[Path, typer.Argument(help="A data file written by `reason prm data`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The model folder to write (loads with prm=hf).")],
    model: Annotated[str | None, typer.Option(help="The policy's Hugging Face folder (default: the data's policy).")] = None,
    labels: Annotated[str, typer.Option(help="steps, outcome, or auto (steps where a row has them).")] = "auto",
    holdout: Annotated[float, typer.Option(min=0.0, max=0.95, help="Share of problems held out for AUC and calibration.")] = 0.2,
    epochs: Annotated[int, typer.Option(min=1, help="Full-batch optimisation steps.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the split and the optimiser.")] = 0,
    device: Annotated[str, typer.Option(help="Where the policy reads the rows: cpu, cuda, cuda:N, or auto.")] = "cpu",
) -> None:
    """Train a value head over the frozen policy's hidden states; write a folder that `prm=hf` loads, with its card."""
    import shlex
    import sys

    from reason.models import resolve_model
    from reason.prm_data import read_rows
    from reason.prm_train import TrainConfig, train_prm

    try:
        config = TrainConfig(labels=labels, holdout=holdout, epochs=epochs, seed=seed, device=device)
        if not data.is_file():
            raise ConfigError(f"{data} does not exist (reason prm data writes it)")
        policies = {r.policy for r in read_rows(data)}
        named = model or (policies.pop() if len(policies) == 1 else None)
        policy = resolve_model(named).path if named else None  # a packaged model's name, or a folder
        if policy is None or not Path(policy).is_dir():
            raise ConfigError(f"the policy folder is not known or not here ({named!r}); pass --model FOLDER")
        check_out_dir(out)
        card = train_prm(data, Path(policy), out, config, command="reason " + shlex.join(sys.argv[1:]))
    except ReasonError as exc:
        raise fail(exc) from None
    held = card["held_out"]
    err_console.print(f"{card['examples']['train']} training examples; held out: {held['solutions']} solutions, "
                      f"AUC {_fmt(held['auc'])}, calibration error {_fmt(held['calibration_error'])}", soft_wrap=True)
    typer.echo(str(out))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
