"""benchmarks/budget_curves.py, the script behind the README's budget-matched GSM8K curves, on runs built by hand.

Checks what the published table rests on: problems matched by id across runs (records arrive in completion
order), best@k / weighted@k from verifier scores, the paired difference against self-consistency, the
verifier's AUC, and the PNG.
"""

import subprocess
import sys
from pathlib import Path

from reason.bench.records import CacheCounts, CandidateRecord, ProblemRecord, SampleRecord
from reason.types import Compute, Verdict

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "budget_curves.py"


def record(pid: str, answers: list[str], scores: list[float] | None, correct: bool) -> ProblemRecord:
    samples = tuple(
        SampleRecord(text="", answer=a, finish_reason="stop", generated_tokens=10, correct=a == "right",
                     score=None if scores is None else scores[i])
        for i, a in enumerate(answers)
    )
    return ProblemRecord(
        id=pid, question="q", reference="right", predicted=None, correct=correct, verdict=Verdict(status="pass"),
        strategy="self-consistency" if scores is None else "best-of-n", vote=None, candidates=(CandidateRecord(answer="x", votes=1, sample_indices=(0,), correct=correct, verdict="pass"),),
        samples=samples, compute=Compute(generated_tokens=10 * len(answers)), cache=CacheCounts(), wall_time_s=0.1,
    )


def write(run: Path, records: list[ProblemRecord]) -> Path:
    run.mkdir()
    (run / "records.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records))
    return run


def test_best_of_n_against_self_consistency_matched_by_problem(tmp_path):
    # Self-consistency: the wrong answer holds the majority on all 20 problems, one sample of 4 is right.
    sc = write(tmp_path / "sc", [record(f"p-{i}", ["w", "w", "w", "right"], None, False) for i in range(20)])
    # Best-of-N over the same samples, finished in another order, plus a problem SC never finished:
    # the verifier ranks the right sample first everywhere.
    bon = [record(f"p-{i}", ["w", "w", "w", "right"], [0.1, 0.2, 0.3, 0.9], True) for i in reversed(range(21))]
    out = subprocess.run([sys.executable, str(SCRIPT), str(sc), str(write(tmp_path / "bon", bon)), "--resamples",
                          "200", "--png", str(tmp_path / "curves.png")], capture_output=True, text=True, check=True)
    text = out.stdout
    assert "| line (20 problems) |" in text  # p-20 is left out: only problems both finished
    assert "| sc: majority vote@k | 0 | 10 -> 25.0% [" in text  # one right sample of 4
    assert "40 -> 0.0% [0.0, 0.0]" in text  # maj@4: the wrong answer wins
    # best@4 always picks the right sample; best@1 is right a quarter of the time; weighted@4: 0.9 vs 0.6.
    assert "| bon: best@k | 0 | 10 -> 25.0% [25.0, 25.0], 20 -> 50.0% [50.0, 50.0], 40 -> 100.0% [100.0, 100.0] |" in text
    assert "| bon: weighted@k | 0 |" in text
    assert "| bon: best@k | 40 | sc: majority vote at 40 | +100.0 [+100.0, +100.0] | better |" in text
    assert "| bon: best@k | 10 | sc: majority vote at 10 | +0.0 [+0.0, +0.0] | no difference shown |" in text
    assert "bon: majority vote@k" not in text and "bon: oracle" not in text  # the same samples: shown once, as sc's
    assert "| bon | 80 (20) | 1.000 [1.000, 1.000] |" in text  # AUC: right samples always score highest
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_a_worse_strategy_is_called_worse(tmp_path):
    sc = write(tmp_path / "sc", [record(f"p-{i}", ["right", "right", "w"], None, True) for i in range(30)])
    cot = write(tmp_path / "cot", [record(f"p-{i}", ["w"], None, False) for i in range(30)])
    text = subprocess.run([sys.executable, str(SCRIPT), str(sc), str(cot), "--resamples", "200"],
                          capture_output=True, text=True, check=True).stdout
    assert "| cot: answer | 10 | sc: majority vote at 10 | -66.7 [-66.7, -66.7] | worse |" in text  # maj@1 = 2/3
    assert "| sc: majority vote | 30 | cot at 10 | +100.0 [+100.0, +100.0] | better |" in text  # maj@3: always right
    assert "verifier AUC" not in text  # nobody scored these samples


def test_a_kept_run_gives_the_same_table_and_page_as_the_run(tmp_path):
    """benchmarks/keep_runs.py slims and compresses finished runs into the repository; the published table
    must come out of the kept copies byte for byte, and `reason show` must still draw them."""
    from reason.show import load_payload

    sc = write(tmp_path / "sc", [record(f"p-{i}", ["w", "right", "w"][: 2 + i % 2], None, i % 3 == 0)
                                 for i in range(12)])
    bon = write(tmp_path / "bon", [record(f"p-{i}", ["w", "right"], [0.2, 0.1 * i], i % 2 == 0) for i in range(12)])
    keep = SCRIPT.parent / "keep_runs.py"
    subprocess.run([sys.executable, str(keep), str(sc), str(bon), "--into", str(tmp_path / "kept")], check=True,
                   capture_output=True)
    assert not (tmp_path / "kept" / "sc" / "records.jsonl").exists()

    def table(*runs):
        return subprocess.run([sys.executable, str(SCRIPT), *map(str, runs), "--resamples", "200"], capture_output=True,
                              text=True, check=True).stdout

    assert table(sc, bon) == table(tmp_path / "kept" / "sc", tmp_path / "kept" / "bon")
    page = load_payload(tmp_path / "kept" / "bon")
    assert len(page["runs"][0]["searches"]) == 12
