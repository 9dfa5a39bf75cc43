"""What the command line prints for scripts: plain lines when piped, JSON on request, shell completion."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from reason.cli import app

runner = CliRunner()
FAKE = ["--backend", "fake", "--backend-opt", 'script=["So 3 + 4 = 7.\\nThe answer is 7."]', "--backend-opt", "cycle=true"]


def test_solve_piped_is_plain_lines():
    result = runner.invoke(app, ["solve", "What is 3 + 4?", *FAKE, "-s", "self-consistency", "--n", "2"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "candidate\t7\t2\t" in lines and "answer: 7" in lines
    assert "agreement: 2 of 2 samples agree (100%)" in lines
    assert not any(ch in result.stdout for ch in "━┃│╇\x1b")  # no box drawing, no colour codes


@pytest.mark.parametrize(("script", "said"), [
    (["The answer is 6.", "The answer is 8.", "The answer is 9."], "no agreement: 3 samples, 3 different answers"),
    (["The answer is 6.", "The answer is 8.", "The answer is 6."], "2 of 3 samples agree (67%)"),
    (["The answer is 6.", "The answer is 8.", "nothing"], "no agreement: 2 samples, 2 different answers"),
])
def test_solve_says_how_settled_the_answer_is(script, said):
    result = runner.invoke(app, ["solve", "Q?", "--backend", "fake", "--backend-opt", f"script={json.dumps(script)}",
                                 "-s", "self-consistency", "--n", "3"])
    assert result.exit_code == 0, result.stderr
    assert f"agreement: {said}" in result.stdout.splitlines()


def test_a_pick_by_score_says_so():
    from reason.cli import agreement
    from reason.types import Candidate, Compute, Problem, Sample, SearchResult

    samples = (Sample(text="a", answer="6", score=0.9), Sample(text="b", answer="8", score=0.4))
    result = SearchResult(strategy="best-of-n", problem=Problem(question="Q"), answer="6", reasoning="a",
                          candidates=(Candidate(answer="6", votes=1, score=0.9), Candidate(answer="8", votes=1, score=0.4)),
                          samples=samples, compute=Compute())
    assert agreement(result) == "picked by score 0.900 over 0.400"


def test_bench_json_summary(tmp_path):
    result = runner.invoke(app, ["bench", "run", "gsm8k", *FAKE, "--limit", "2", "--out", str(tmp_path / "r"), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["new_records"] == 2 and data["summary"]["problems"] == 2 and "accuracy" in data["summary"]


def test_bench_takes_the_same_backend_flags_as_solve(tmp_path):
    result = runner.invoke(app, ["bench", "run", "gsm8k", "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--base-url is for --backend http" in result.stderr


def test_components_lists_parameters_with_help():
    result = runner.invoke(app, ["components", "searcher", "beam"])
    assert result.exit_code == 0, result.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in result.stdout.splitlines()}
    assert rows["width"][1:3] == ["int", "2"] and "Next steps generated" in rows["width"][3]
    kinds = {line.split("\t")[0] for line in runner.invoke(app, ["components"]).stdout.splitlines()}
    assert {"generator", "searcher", "verifier", "prm", "task", "vote", "dataset"} <= kinds
    assert runner.invoke(app, ["components", "nope"]).exit_code == 2


def test_shell_completion_script():
    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="reason")
    assert result.exit_code == 0 and "_reason_completion" in result.stdout


def test_every_option_of_every_command_has_help():
    import click
    import typer

    missing: list[str] = []

    def walk(command: click.Command, path: str) -> None:
        missing.extend(f"{path} {p.opts}" for p in command.params
                       if isinstance(p, click.Option) and not p.help and not p.hidden)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "reason")
    assert missing == []


def test_a_watched_search_reports_progress_and_can_be_cancelled():
    import pytest

    from reason.api import make_searcher
    from reason.testing import FakeGenerator
    from reason.types import Problem
    from reason.watch import SearchCancelled, WatchedGenerator

    shown: list = []
    # "7.0" and "$7" are the answer 7, as the final vote groups them: the leader counts them together.
    outputs = ["The answer is 8.", "The answer is 7.0.", "The answer is 8.", "The answer is $7.", "The answer is 7."]
    watched = WatchedGenerator(FakeGenerator(outputs), "gsm8k", shown.append)
    result = make_searcher("self-consistency", n=5).search(Problem(question="3 + 4?"), watched)
    assert result.answer in ("7", "7.0") and watched.calls >= 1
    assert shown[-1].describe().startswith(f"{watched.calls} model calls, 5 samples")
    assert "leading: 7.0 (3 of 5)" in shown[-1].describe()
    stopped = WatchedGenerator(FakeGenerator(["The answer is 7."], cycle=True), "gsm8k", shown.append, lambda: True)
    with pytest.raises(SearchCancelled):
        make_searcher("self-consistency", n=3).search(Problem(question="3 + 4?"), stopped)
