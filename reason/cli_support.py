"""What `reason` and `reason bench` share: one-line errors on stderr with documented exit codes, and the
checks that decide a bad input before any model or Ray cluster is touched.

Exit codes: 0 done; 1 a runtime failure (a model, a server, a worker); 2 a usage or configuration error
(an unknown name, a bad value, a missing file, an output folder that cannot be written); 130 interrupted.
Leaves out: the commands themselves (`reason/cli.py`, `reason/bench_cli.py`).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import socket
import sys
import tempfile
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

from reason.errors import ConfigError, ModelNotFoundError, ReasonError, UnknownComponentError
from reason.registry import registry

EXIT_RUNTIME, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
err_console = Console(stderr=True, soft_wrap=True)
_USAGE_ERRORS = (ConfigError, UnknownComponentError, ModelNotFoundError)


def fail(exc: ReasonError) -> typer.Exit:
    """One line on stderr; exit 2 for what the user can fix in the command, 1 for what went wrong running it."""
    err_console.print(f"[bold red]error:[/] {' '.join(str(exc).split())}", markup=True, highlight=False)
    return typer.Exit(code=EXIT_USAGE if isinstance(exc, _USAGE_ERRORS) else EXIT_RUNTIME)


def read_question(question: str) -> str:
    """The question as given, or stdin's text for "-"; blank is an error (it would only waste a model call)."""
    text = sys.stdin.read() if question == "-" else question
    if not text.strip():
        raise ConfigError("the question is empty" + (" (nothing on stdin)" if question == "-" else ""))
    return text.strip()


BACKEND_HELP = {
    "backend": "Generator backend: vllm (in this process), http (an OpenAI-compatible server), or a plugin's.",
    "model": "Model for the backend: a local folder or .gguf file (default: the bundled SmolLM2-135M).",
    "base_url": "Server URL for --backend http, e.g. http://host:8000/v1.",
    "backend_opt": "A backend option, key=value (repeatable); values parse as JSON when they can.",
}
"""One help text per backend option, shared by `reason solve` and `reason bench`."""


def backend_options(backend: str, model: str | None, base_url: str | None, pairs: list[str] | None) -> dict[str, Any]:
    """The backend's keyword options from the shared flags (`--model`, `--base-url`, `--backend-opt`)."""
    from reason.params import parse_pairs

    options = parse_pairs(pairs or [], "--backend-opt")
    if model is not None:
        options["model"] = model
    if base_url is not None:
        if backend != "http":
            raise ConfigError("--base-url is for --backend http")
        options["base_url"] = base_url
    return options


def check_choices(strategies: Sequence[str], params: dict[str, Any] | None, task: str | None, backend: str,
                  options: dict[str, Any]) -> None:
    """What `solve`, `serve` and `bench` decide from the command line alone, before a model is touched: the
    strategies (built with `params` when given, else only looked up), the task style, the backend options."""
    from reason.api import make_searcher
    from reason.tasks import task_style

    for strategy in strategies:
        if params is not None:
            make_searcher(strategy, **params)
        else:
            registry.get("searcher", strategy)
    if task is not None:
        task_style(task)
    check_backend_options(backend, options)


def check_backend_options(backend: str, options: dict[str, Any]) -> None:
    """Refuse options the backend does not take, from its signature or its config class, without building it."""
    factory = registry.get("generator", backend)
    config_class = getattr(factory, "options_model", None) or _config_class(factory)
    if config_class is not None:
        try:
            config_class.model_validate(options)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "options"
            raise ConfigError(f"--backend-opt for {backend}: {where}: {first['msg']}") from None
        return
    parameters = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise ConfigError(f"--backend-opt for {backend}: no option {', '.join(unknown)}; it takes "
                          f"{', '.join(sorted(parameters)) or 'none'}")


def _config_class(factory: Any) -> Any:
    try:
        hints = typing.get_type_hints(factory.__init__)
    except Exception:  # a factory without resolvable hints just gets the signature check
        return None
    for candidate in typing.get_args(hints.get("config")) or (hints.get("config"),):
        if hasattr(candidate, "model_validate"):
            return candidate
    return None


def check_out_dir(path: Path) -> Path:
    """An output folder that exists or can be made, and can be written; decided before the run starts."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".reason-write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"--out {path} cannot be written: {exc.strerror or exc}") from None
    return path


def check_out_file(path: Path, option: str) -> Path:
    """An output file that can be written (its folder made if need be); decided before any work starts."""
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder, not a file")
    check_out_dir(path.parent if str(path.parent) else Path("."))
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{option} {path} cannot be written")
    return path


def check_ray_address(address: str | None, timeout_s: float = 3.0) -> None:
    """A Ray head that answers at HOST:PORT within a few seconds (ray.init would retry for minutes)."""
    if address is None or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray-address {address}: expected HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ConfigError(f"--ray-address {address}: nothing answers there ({exc.strerror or exc})") from None


@contextlib.contextmanager
def third_party_output_captured(verbose: bool) -> Iterator[None]:
    """Hold what libraries print on stderr while a model loads (import notices, deprecation warnings, NUMA
    notes, checkpoint progress bars): shown with -v, or when the load fails; our own output is on stdout."""
    if verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read()[-20_000:])
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
