"""`reason prm data`: outcome and Math-Shepherd step labels from real benchmark runs, resumable, cached, budgeted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_bench_support import arithmetic_generator, write_arithmetic
from typer.testing import CliRunner

from reason.backends.cache import CacheOnlyGenerator
from reason.bench.records import read_records
from reason.bench.runner import RunConfig, run_benchmark
from reason.cli import app
from reason.prm_data import DataConfig, build_data, read_rows
from reason.testing import FakeGenerator
from reason.types import SamplingParams


def two_step(prompt: str, params: SamplingParams) -> str:
    """From the root: half the samples start well and end right, half start badly and end wrong. From a
    prefix: a good start always ends right, a bad one always wrong."""
    a, b = map(int, re.search(r"What is (\d+) \+ (\d+)\?", prompt).groups())
    prefix = prompt.rsplit("assistant: ", 1)[-1].strip()
    if prefix.startswith("Good"):
        return f"The answer is {a + b}."
    if prefix.startswith("Bad"):
        return f"The answer is {a + b + 1}."
    two_step.calls = getattr(two_step, "calls", 0) + 1  # type: ignore[attr-defined]
    if two_step.calls % 2:  # type: ignore[attr-defined]
        return f"Good start: {a} plus {b}.\n\nThe answer is {a + b}."
    return f"Bad start: {a} minus {b}.\n\nThe answer is {a + b + 1}."


@pytest.fixture
def run_dir(tmp_path):
    data = write_arithmetic(tmp_path / "arith.jsonl", 4)
    config = RunConfig(dataset=str(data), question_field="q", answer_field="a", id_field="id", backend="fake",
                       strategy="self-consistency", params={"n": 2, "max_tokens": 64})
    run_benchmark(config, tmp_path / "run", FakeGenerator(two_step, name="fake-two-step"))
    return tmp_path / "run"


def test_outcome_labels_are_the_runs_verdicts_one_row_per_sample(tmp_path):
    data = write_arithmetic(tmp_path / "arith.jsonl", 6)
    config = RunConfig(dataset=str(data), question_field="q", answer_field="a", id_field="id", backend="fake",
                       strategy="self-consistency", params={"n": 3, "max_tokens": 32})
    run_benchmark(config, tmp_path / "run", arithmetic_generator(wrong_every=3))
    assert build_data([tmp_path / "run"], tmp_path / "d.jsonl", DataConfig()) == 18
    rows = read_rows(tmp_path / "d.jsonl")
    by_record = {r.id: r for r in read_records(tmp_path / "run")}
    assert len({r.id for r in rows}) == 18
    for row in rows:
        sample = by_record[row.problem_id].samples[int(row.id.split("#")[1].split("@")[0])]
        assert (row.text, row.answer, row.correct) == (sample.text, sample.answer, sample.correct)
        assert row.step_labels is None and row.policy == "fake-arith" and row.reference == by_record[row.problem_id].reference
    assert sum(r.correct for r in rows) == 12  # every third sample is wrong


def test_step_labels_are_the_share_of_rollouts_that_end_right(run_dir, tmp_path):
    out = tmp_path / "steps.jsonl"
    policy = FakeGenerator(two_step, name="fake-two-step")
    assert build_data([run_dir], out, DataConfig(rollouts=3, max_tokens=32), policy) == 8
    rows = read_rows(out)
    assert {r.steps[0].split(":")[0] for r in rows} == {"Good start", "Bad start"}
    for row in rows:
        assert len(row.step_labels) == len(row.steps) == 2 and row.rollouts == 3
        assert row.step_labels == ((1.0, 1.0) if row.correct else (0.0, 0.0))
    rollout_calls = [c for c in policy.calls if c.params.n == 3]
    assert len(rollout_calls) == 8 and all(len(c.prompts) == 1 for c in rollout_calls)  # one batched call per sample


def test_a_rerun_resumes_and_a_rebuild_comes_from_the_cache(run_dir, tmp_path):
    out = tmp_path / "steps.jsonl"
    config = DataConfig(rollouts=2, max_tokens=32)
    build_data([run_dir], out, config, FakeGenerator(two_step, name="fake-two-step"))
    first = out.read_text()
    out.write_text("\n".join(first.splitlines()[:5]) + '\n{"id": "torn')  # killed while writing the sixth row
    assert build_data([run_dir], out, config, FakeGenerator(two_step, name="fake-two-step")) == 3
    assert sorted(r.id for r in read_rows(out)) == sorted(json.loads(line)["id"] for line in first.splitlines())
    out.unlink()  # everything again, with a backend that can only replay the cache
    assert build_data([run_dir], out, config, CacheOnlyGenerator("fake-two-step")) == 8
    assert sorted(list(r.step_labels) for r in read_rows(out)) == sorted(json.loads(x)["step_labels"] for x in first.splitlines())


def test_the_token_budget_caps_rollouts_and_says_which_rows_went_without(run_dir, tmp_path):
    out = tmp_path / "budget.jsonl"
    # a sample may cost 1 prefix x 2 rollouts x 10 tokens = 20; each actually costs 2 x 4 ("The answer is N.")
    config = DataConfig(rollouts=2, max_tokens=10, token_budget=45)
    policy = FakeGenerator(two_step, name="fake-two-step")
    build_data([run_dir], out, config, policy)
    rows = read_rows(out)
    assert [r.skipped for r in rows] == [None] * 4 + ["budget"] * 4  # 4 x 8 = 32 spent; 32 + 20 would pass 45
    assert len([c for c in policy.calls if c.params.n == 2]) == 4  # no rollout call past the budget


def test_the_command_line_writes_outcome_and_step_labels(run_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.jsonl"
    done = runner.invoke(app, ["prm", "data", str(run_dir), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert len(read_rows(out)) == 8 and "8 rows written" in done.stderr
    steps = runner.invoke(app, ["prm", "data", str(run_dir), "--out", str(tmp_path / "s.jsonl"), "--rollouts", "2",
                                "--backend", "fake", "--backend-opt", 'script=["The answer is 1000."]',
                                "--backend-opt", "cycle=true"])
    assert steps.exit_code == 0, steps.output
    assert all(r.step_labels == (0.0, 1.0 if r.correct else 0.0) for r in read_rows(tmp_path / "s.jsonl"))
    missing = runner.invoke(app, ["prm", "data", str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code == 2 and "not a benchmark run" in missing.output


@pytest.mark.model
def test_step_labels_from_the_bundled_model(tmp_path, vllm_generator):
    data = write_arithmetic(tmp_path / "arith.jsonl", 2)
    config = RunConfig(dataset=str(data), question_field="q", answer_field="a", id_field="id",
                       strategy="self-consistency", params={"n": 2, "max_tokens": 48, "seed": 0})
    run_benchmark(config, tmp_path / "run", vllm_generator)
    out = tmp_path / "model.jsonl"
    build_data([tmp_path / "run"], out, DataConfig(rollouts=2, max_tokens=24), vllm_generator)
    rows = read_rows(out)
    assert len(rows) == 4 and all(r.policy == vllm_generator.name for r in rows)
    assert all(r.step_labels is not None and len(r.step_labels) == len(r.steps) for r in rows)
    assert all(0.0 <= x <= 1.0 for r in rows for x in r.step_labels)


@pytest.mark.model
def test_a_trained_value_head_loads_through_prm_hf_and_its_card_reproduces(tmp_path, bundled_model_path):
    from reason.prm.hf import HFPRM
    from reason.prm_train import TrainConfig, auc, calibration_error, train_prm
    from reason.types import Problem

    data = write_arithmetic(tmp_path / "arith.jsonl", 20)
    config = RunConfig(dataset=str(data), question_field="q", answer_field="a", id_field="id", backend="fake",
                       strategy="self-consistency", params={"n": 2, "max_tokens": 64})
    run_benchmark(config, tmp_path / "run", FakeGenerator(two_step, name=bundled_model_path))
    build_data([tmp_path / "run"], tmp_path / "d.jsonl", DataConfig())  # outcome labels: good starts end right
    card = train_prm(tmp_path / "d.jsonl", Path(bundled_model_path), tmp_path / "verifier", TrainConfig(holdout=0.25))
    assert card["data"]["rows"] == 40 and card["examples"] == {"train": 30, "held_out": 10}  # the last step of each row
    assert card["train"]["auc"] == 1.0 and card["held_out"]["auc"] >= 0.9  # separable: the words differ
    assert json.loads((tmp_path / "verifier" / "prm_card.json").read_text()) == card

    prm = HFPRM(model=str(tmp_path / "verifier"))  # prm=hf finds the value-head shape from the checkpoint itself
    held = [r for r in read_rows(tmp_path / "d.jsonl") if r.problem_id in card["held_out"]["problems"]]
    scores = [prm.score(Problem(question=r.question), [list(r.steps)])[0][-1] for r in held]
    labels = [r.correct for r in held]
    assert auc(scores, labels) == pytest.approx(card["held_out"]["auc"])  # the card reproduces through prm=hf
    assert calibration_error(scores, labels) == pytest.approx(card["held_out"]["calibration_error"], abs=1e-4)

    runner = CliRunner()  # the same through the command line: the policy is read from the data
    done = runner.invoke(app, ["prm", "train", str(tmp_path / "d.jsonl"), "--out", str(tmp_path / "cli"), "--holdout", "0.25"])
    assert done.exit_code == 0, done.output
    assert json.loads((tmp_path / "cli" / "prm_card.json").read_text())["held_out"] == card["held_out"]
    assert "held out: 10 solutions" in done.stderr
    missing = runner.invoke(app, ["prm", "train", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    import torch

    auto = runner.invoke(app, ["prm", "train", str(tmp_path / "d.jsonl"), "--out", str(tmp_path / "auto"), "--holdout",
                               "0.25", "--device", "auto"])  # the GPU when there is one; this machine: the CPU
    assert auto.exit_code == 0, auto.output
    held_auto = json.loads((tmp_path / "auto" / "prm_card.json").read_text())["held_out"]
    assert held_auto["problems"] == card["held_out"]["problems"]
    assert held_auto["auc"] == pytest.approx(card["held_out"]["auc"], abs=1e-3)
    if not torch.cuda.is_available():
        gpu = runner.invoke(app, ["prm", "train", str(tmp_path / "d.jsonl"), "--out", str(tmp_path / "g"), "--device", "cuda"])
        assert gpu.exit_code == 2 and "no CUDA device" in gpu.output


def test_auc_is_the_share_of_right_wrong_pairs_ordered_with_ties_half():
    import random

    from reason.prm_train import auc

    assert auc([0.9, 0.1, 0.5], [True, False, False]) == 1.0
    assert auc([0.5, 0.5, 0.1], [True, False, False]) == 0.75  # one tie (half), one win
    assert auc([0.3], [True]) is None
    rng = random.Random(7)
    for _ in range(200):
        scores = [rng.choice([0.1, 0.5, rng.random()]) for _ in range(rng.randint(2, 30))]
        labels = [rng.random() < 0.3 for _ in scores]
        right = [s for s, y in zip(scores, labels, strict=True) if y]
        wrong = [s for s, y in zip(scores, labels, strict=True) if not y]
        if right and wrong:
            pairs = sum((a > b) + 0.5 * (a == b) for a in right for b in wrong) / (len(right) * len(wrong))
            assert auc(scores, labels) == pytest.approx(pairs)
