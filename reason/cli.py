"""The `reason` command line: solve a question (or many, interactively) and list components.

Errors the engine raises on purpose (`ReasonError`) become one line on stderr with the exit codes of
`reason/cli_support.py` (2: usage or configuration, 1: runtime), never a traceback; what the input
alone can decide (question, task, strategy and its parameters, backend options) is decided before the
model loads. Leaves out: batch runs — `reason bench` lives in its own sub-app.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from reason.cli_components import KINDS
from reason.cli_support import (
    BACKEND_HELP,
    backend_options,
    check_choices,
    check_out_file,
    err_console,
    fail,
    read_question,
    third_party_output_captured,
)
from reason.errors import ConfigError, ReasonError
from reason.params import parse_pairs
from reason.registry import registry
from reason.thinking import thinking_options
from reason.types import SearchResult

app = typer.Typer(no_args_is_help=True, help="Turn extra inference compute into better answers.")
console = Console()


def parse_params(pairs: list[str]) -> dict[str, Any]:
    return parse_pairs(pairs, "parameter")


def agreement(result: SearchResult) -> str:
    """How settled the answer is: the winner's share of the votes, its score against the next, or that no two
    samples agreed (then the pick is the vote rule's tie-break, not a consensus)."""
    candidates, answered = result.candidates, sum(s.answer is not None for s in result.samples)
    if not candidates:
        return "no answer"
    winner = candidates[0]
    if answered <= 1:
        return "one sample"
    tied = [c for c in candidates[1:] if c.votes == winner.votes]
    if winner.score is not None and len(candidates) > 1 and (tied or winner.votes < candidates[1].votes):
        runner = candidates[1].score
        return f"picked by score {winner.score:.3f}" + ("" if runner is None else f" over {runner:.3f}")
    if winner.votes == 1 and len(candidates) == answered:
        return f"no agreement: {answered} samples, {answered} different answers"
    share = f"{winner.votes} of {answered} samples agree ({winner.votes / answered:.0%})"
    return share + (f", tied with {len(tied)} other answer(s)" if tied else "")


def show_result(result: SearchResult, show_reasoning: bool = True) -> None:
    """Rich on a terminal; plain lines (tab-separated candidates) when piped."""
    if not console.is_terminal:
        _show_plain(result, show_reasoning)
        return
    if show_reasoning:
        console.rule(f"reasoning ({result.strategy})")
        console.print(result.reasoning.strip() or "[dim](empty)[/]", markup=False, highlight=False)
    table = Table(title="candidates", show_edge=False)
    table.add_column("answer")
    table.add_column("votes", justify="right")
    table.add_column("score", justify="right")
    for c in result.candidates:
        table.add_row(c.answer, str(c.votes), "" if c.score is None else f"{c.score:.3f}")
    if result.candidates:
        console.print(table)
    unanswered = sum(1 for s in result.samples if s.answer is None)
    if unanswered:
        console.print(f"[dim]{unanswered} of {len(result.samples)} samples gave no answer[/]")
    answer = result.answer if result.answer is not None else "[dim](none)[/]"
    console.print(f"[bold]answer:[/] {answer}  [dim]({agreement(result)})[/]")
    spent = result.compute
    tokens_per_s = spent.generated_tokens / spent.wall_time_s if spent.wall_time_s else 0.0
    console.print(
        f"[dim]compute: {spent.prompt_tokens} prompt + {spent.generated_tokens} generated tokens, "
        f"{spent.model_calls} model calls, {spent.wall_time_s:.1f} s ({tokens_per_s:.1f} generated tokens/s)"
        + (f", PRM {spent.prm_prompt_tokens + spent.prm_generated_tokens} tokens" if spent.prm_calls else "")
        + "[/]"
    )


_settings = {"verbose": False}
"""What the top-level options set for the commands (typer runs the callback first)."""


def _verbose() -> bool:
    return _settings["verbose"]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"reason {version('reason-search')}")
        raise typer.Exit()


def _show_plain(result: SearchResult, show_reasoning: bool) -> None:
    if show_reasoning:
        typer.echo(f"reasoning ({result.strategy}):\n{result.reasoning.strip()}")
    for c in result.candidates:
        typer.echo(f"candidate\t{c.answer}\t{c.votes}\t{'' if c.score is None else f'{c.score:.3f}'}")
    unanswered = sum(1 for s in result.samples if s.answer is None)
    if unanswered:
        typer.echo(f"{unanswered} of {len(result.samples)} samples gave no answer")
    typer.echo(f"answer: {'' if result.answer is None else result.answer}")
    typer.echo(f"agreement: {agreement(result)}")
    spent = result.compute
    typer.echo(f"compute: {spent.prompt_tokens} prompt + {spent.generated_tokens} generated tokens, "
               f"{spent.model_calls} model calls, {spent.wall_time_s:.1f} s")


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the engine does.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _settings["verbose"] = verbose
    if verbose:
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "INFO")


@app.command()
def solve(
    question: Annotated[str | None, typer.Argument(help="The question ('-' reads it from stdin); leave out for an interactive solver.")] = None,
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="A registered searcher (see `reason components`).")] = "cot",
    n: Annotated[int | None, typer.Option(help="Samples, for strategies that take n.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Most tokens per generation.")] = None,
    param: Annotated[list[str], typer.Option("--param", "-p", help="Other strategy parameters, key=value (repeatable).")] = [],  # noqa: B006
    task: Annotated[str, typer.Option(help="Task style: prompt and answer extraction (gsm8k, math).")] = "gsm8k",
    model: Annotated[str | None, typer.Option(help=BACKEND_HELP["model"])] = None,
    backend: Annotated[str, typer.Option("--backend", "-b", help=BACKEND_HELP["backend"])] = "vllm",
    base_url: Annotated[str | None, typer.Option(help=BACKEND_HELP["base_url"])] = None,
    backend_opt: Annotated[list[str], typer.Option("--backend-opt", help=BACKEND_HELP["backend_opt"])] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result (answer, candidates, compute, trace) as JSON.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the trace explorer page of this solve (one offline HTML file).")] = None,
    max_thinking_tokens: Annotated[int | None, typer.Option(min=1, help="Reasoning models: cap the <think> span at this many tokens, then ask for the answer.")] = None,
    min_thinking_tokens: Annotated[int | None, typer.Option(min=1, help="Reasoning models: a span closed sooner is told 'Wait' and thinks on (s1).")] = None,
) -> None:
    """Solve one question and show the reasoning, the candidates with votes, the answer and the compute spent."""
    try:
        text = None if question is None else read_question(question)
        params = parse_params(param)
        for key, value in (("n", n), ("temperature", temperature), ("max_tokens", max_tokens)):
            if value is not None:
                params[key] = value
        options = backend_options(backend, model, base_url, backend_opt)
        if html is not None:
            if text is None:
                raise ConfigError("--html writes the page of one question; give the question (the interactive solver has none)")
            check_out_file(html, "--html")
        thinking = thinking_options(max_thinking_tokens, min_thinking_tokens)  # min over max: refused before the model loads
        engine = _checked_engine(strategy, params, task, backend, options, show_status=not as_json,
                                 thinking=thinking.model_dump() if thinking else None)
        with engine:
            if text is None:
                InteractiveSolver(engine, strategy, params, task).run()
            else:
                with console.status("solving...") if not as_json else contextlib.nullcontext():
                    result = engine.solve(text, strategy, task=task, **params)
                if html is not None:
                    html.write_text(result.to_html(), encoding="utf-8")
                if as_json:
                    typer.echo(result.model_dump_json())
                else:
                    show_result(result)
                    if html is not None:
                        err_console.print(f"page: {html}", soft_wrap=True)
    except ReasonError as exc:
        raise fail(exc) from None



TERMINAL_LINE_LIMIT = 4095
"""A canonical-mode terminal cuts a typed or pasted line here (Linux's N_TTY buffer)."""


class InteractiveSolver:
    """One question after another with the model kept loaded; `/help` lists the commands.

    Line editing and history through readline (history in the user's cache folder); Ctrl-C during a
    question cancels that question and keeps the session; `/file PATH` asks the question in a file, for
    questions longer than a terminal line.
    """

    HELP = (
        "commands: /strategy NAME, /n N, /param key=value, /params (show), /task NAME, /file PATH, "
        "/lines (a question over several lines, ended by a line with a single '.'), /quit; "
        "anything else is a question"
    )

    def __init__(self, engine: Any, strategy: str, params: dict[str, Any], task: str) -> None:
        self.engine, self.strategy, self.params, self.task = engine, strategy, dict(params), task
        self.commands = {
            "/strategy": self._set_strategy,
            "/n": lambda arg: self._set_params([f"n={arg}"]),
            "/param": lambda arg: self._set_params(shlex.split(arg)),
            "/params": lambda arg: console.print(f"strategy={self.strategy} task={self.task} params={self.params}"),
            "/task": self._set_task,
            "/help": lambda arg: console.print(self.HELP),
            "/file": self._ask_file,
            "/lines": self._ask_lines,
        }

    def run(self) -> None:
        history = _history()  # first: the banner says the prompt is ready
        console.print(f"[bold]reason[/] interactive solver ({self.strategy}). {self.HELP}")
        try:
            while True:
                try:
                    line = console.input("[bold cyan]?[/] ").strip()
                except EOFError:
                    break
                except KeyboardInterrupt:  # at the prompt: a fresh line, as a shell does
                    console.print()
                    continue
                if line in ("/quit", "/exit", "/q"):
                    break
                if len(line) >= TERMINAL_LINE_LIMIT - 1:
                    console.print(f"[yellow]warning:[/] that line is {len(line)} characters, where a terminal cuts "
                                  "pasted lines; it may be incomplete: use /file PATH for long questions")
                if line:
                    try:
                        self._handle(line)
                    except KeyboardInterrupt:  # mid-question or mid-answer: that line is dropped, the session stays
                        console.print("\n[yellow]cancelled[/]; the session and the model stay")
        finally:
            history()

    def _handle(self, line: str) -> None:
        try:
            if line.startswith("/"):
                name, _, arg = line.partition(" ")
                if name not in self.commands:
                    raise ConfigError(f"unknown command {name!r}; {self.HELP}")
                self.commands[name](arg.strip())
            else:
                self._ask(line)
        except ReasonError as exc:  # a bad command or question must not end the session
            console.print(f"[bold red]error:[/] {exc}", highlight=False)

    def _ask(self, question: str) -> None:
        from reason.api import make_searcher
        from reason.types import Problem

        searcher = make_searcher(self.strategy, **self.params)
        from reason.watch import WatchedGenerator

        with console.status("solving... (Ctrl-C cancels this question)") as status:
            def show(progress: Any) -> None:
                status.update(f"solving... {progress.describe()} (Ctrl-C cancels this question)")

            watched = WatchedGenerator(self.engine.generator, self.task, show)
            result = searcher.search(Problem(question=question, task=self.task), watched)
        show_result(result)

    def _ask_lines(self, arg: str) -> None:
        lines: list[str] = []
        while (line := console.input("[dim]...[/] ")) != ".":
            lines.append(line)
        self._ask(read_question("\n".join(lines)))

    def _ask_file(self, path: str) -> None:
        from pathlib import Path

        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        self._ask(read_question(text))

    def _set_strategy(self, name: str) -> None:
        from reason.api import make_searcher

        kept = {k: v for k, v in self.params.items() if k in registry.get("searcher", name).model_fields}
        make_searcher(name, **kept)
        self.strategy, self.params = name, kept
        console.print(f"strategy: {name} {kept or ''}")

    def _set_params(self, pairs: list[str]) -> None:
        from reason.api import make_searcher

        updated = {**self.params, **parse_params(pairs)}
        make_searcher(self.strategy, **updated)
        self.params = updated
        console.print(f"params: {updated}")

    def _set_task(self, name: str) -> None:
        from reason.tasks import task_style

        task_style(name)
        self.task = name
        console.print(f"task: {name}")


@app.command()
def show(
    path: Annotated[Path, typer.Argument(help="A run or sweep folder, a records.jsonl, or saved results (reason solve --json).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The page to write (default: explorer.html in the folder, or PATH with .html).")] = None,
    open_page: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
) -> None:
    """Write the trace explorer: one offline HTML page with each search's tree, candidates, samples and compute."""
    from reason.show import default_output, write_page

    try:
        target = out or default_output(path)
        check_out_file(target, "--out")
        written = write_page(path, target)
    except ReasonError as exc:
        raise fail(exc) from None
    typer.echo(str(written))
    if open_page:
        import webbrowser

        webbrowser.open(written.resolve().as_uri())


@app.command()
def components(
    kind: Annotated[str | None, typer.Argument(help=f"One kind: {', '.join(KINDS)}.")] = None,
    name: Annotated[str | None, typer.Argument(help="One component of that kind: its parameters.")] = None,
) -> None:
    """List everything that can be named; for one component, its parameters with types, defaults and help."""
    from reason.cli_components import component_rows, parameter_rows

    try:
        if name is None:
            _print_rows(["kind", "name", "about"], component_rows(kind))
        else:
            _print_rows(["parameter", "type", "default", "help"], parameter_rows(kind or "", name))
    except ReasonError as exc:
        raise fail(exc) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="The strategy of requests that name none.")] = "cot",
    param: Annotated[list[str], typer.Option("--param", "-p", help="The default strategy's parameters, key=value (repeatable).")] = [],  # noqa: B006
    task: Annotated[str, typer.Option(help="Task style: prompt and answer extraction (gsm8k, math).")] = "gsm8k",
    model: Annotated[str | None, typer.Option(help=BACKEND_HELP["model"])] = None,
    backend: Annotated[str, typer.Option("--backend", "-b", help=BACKEND_HELP["backend"])] = "vllm",
    base_url: Annotated[str | None, typer.Option(help=BACKEND_HELP["base_url"])] = None,
    backend_opt: Annotated[list[str], typer.Option("--backend-opt", help=BACKEND_HELP["backend_opt"])] = [],  # noqa: B006
    max_budget: Annotated[int | None, typer.Option(help="Most policy tokens one request may ask for (and must name).")] = None,
    max_n: Annotated[int, typer.Option(help="Largest n a request may ask of a searcher.")] = 64,
    max_queue: Annotated[int, typer.Option(help="Requests searching at once; one more is answered 429.")] = 64,
    api_key: Annotated[str | None, typer.Option(envvar="REASON_API_KEY", help="Require this Bearer key (or REASON_API_KEY).")] = None,
    max_thinking_tokens: Annotated[int | None, typer.Option(min=1, help="Reasoning models: every request's <think> span capped at this many tokens (a request's reason.thinking overrides).")] = None,
    min_thinking_tokens: Annotated[int | None, typer.Option(min=1, help="Reasoning models: a span closed sooner is told 'Wait' and thinks on (s1).")] = None,
) -> None:
    """An OpenAI-compatible endpoint: any client gets searched answers by pointing its base URL here."""
    try:
        from reason.serve import ServeConfig, create_app

        config = ServeConfig(strategy=strategy, params=parse_params(param), task=task, max_budget=max_budget,
                             max_n=max_n, max_queue=max_queue, api_key=api_key)
        thinking = thinking_options(max_thinking_tokens, min_thinking_tokens)
        engine = _checked_engine(strategy, config.params, task, backend, backend_options(backend, model, base_url, backend_opt),
                                 thinking=thinking.model_dump() if thinking else None)
    except ReasonError as exc:
        raise fail(exc) from None
    import uvicorn

    err_console.print(f"reason serve: http://{host}:{port}/v1 (default strategy {strategy}); Ctrl-C stops it")
    with engine:
        uvicorn.run(create_app(engine, config), host=host, port=port, log_level="warning")


def _checked_engine(strategy: str, params: dict[str, Any], task: str, backend: str, options: dict[str, Any],
                    show_status: bool = True, thinking: dict[str, Any] | None = None) -> Any:
    """Check what the command line decides (before paying for a model load), then load the model with what
    libraries print held back."""
    from reason.api import Engine

    check_choices((strategy,), params, task, backend, options)
    with console.status("loading model...") if show_status else contextlib.nullcontext(), \
            third_party_output_captured(_verbose()):
        return Engine(backend, thinking=thinking, **options)


def _print_rows(header: list[str], rows: list[list[str]]) -> None:
    """A table on a terminal; tab-separated lines when piped."""
    if not console.is_terminal:
        for row in rows:
            typer.echo("\t".join(row))
        return
    table = Table(show_edge=False)
    for column in header:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _history() -> Any:
    """Line editing and a persistent history where readline exists; returns what saves the history."""
    try:
        import readline
    except ImportError:
        return lambda: None
    from pathlib import Path

    path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reason" / "history"
    try:
        readline.read_history_file(path)
    except OSError:
        pass

    def save() -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.set_history_length(1000)
            readline.write_history_file(path)
        except OSError:
            pass

    return save


def _mount_subcommands() -> None:
    """Sub-apps live beside the code they drive; mounting them imports nothing heavy."""
    from reason.bench_cli import bench_app
    from reason.prm_cli import prm_app
    from reason.verifiers.lean_cli import lean_app

    app.add_typer(bench_app, name="bench", help="Benchmark runs: resumable, cached, with a compute ledger.")
    app.add_typer(lean_app, name="lean", help="The Lean 4 checker: install it, check a file, show its status.")
    app.add_typer(prm_app, name="prm", help="Training data for a verifier, from the policy's own benchmark runs.")


_mount_subcommands()


def run() -> None:
    """Console-script entry point."""
    app()
