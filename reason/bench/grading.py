"""Grading a search result into a `ProblemRecord`: vote rule, verifier verdicts, compute, trace.

Each distinct candidate answer is verified once; a sample's correctness is its
candidate's (samples outside every candidate are verified on their own). Grading
runs on the run's single writer thread, so a verifier need not be thread-safe.
Leaves out: deciding anything about search; the searcher's samples are taken as they are.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from reason.bench.records import (
    CacheCounts,
    CandidateRecord,
    ProblemRecord,
    SampleRecord,
)
from reason.tasks import task_style
from reason.types import Candidate, Problem, SearchResult, Verdict
from reason.verifier import Verifier
from reason.voting import VoteRule, group_answers

logger = logging.getLogger(__name__)

INLINE_TRACE_BYTES = 32_000
"""Traces larger than this go to `traces/<id>.json` and the record points at the file."""


class Grader:
    """Turns finished searches into records for one run."""

    def __init__(self, verifier: Verifier, vote: tuple[str, VoteRule] | None, run_dir: Path) -> None:
        self.verifier = verifier
        self.vote = vote
        self.run_dir = run_dir

    def record(self, result: SearchResult, cache: CacheCounts, wall_time_s: float) -> ProblemRecord:
        problem = result.problem
        candidates = self._candidates(result)
        verdicts = {c.answer: self._verify(problem, c.answer) for c in candidates}
        predicted = candidates[0].answer if candidates else None
        verdict = verdicts[predicted] if predicted is not None else Verdict(status="fail", detail="no answer")
        kept = result.trace if result.search_tree is None else {**result.trace, "tree": result.search_tree}
        trace, trace_file = self._trace(problem, kept)  # a record keeps the tree in its trace, as it always did
        return ProblemRecord(
            id=problem.id or "",
            question=problem.question,
            reference=problem.answer,
            predicted=predicted,
            correct=verdict.passed,
            verdict=verdict,
            strategy=result.strategy,
            vote=self.vote[0] if self.vote else None,
            candidates=tuple(_candidate_record(c, verdicts[c.answer]) for c in candidates),
            samples=tuple(self._samples(result, candidates, verdicts)),
            compute=result.compute,
            cache=cache,
            wall_time_s=wall_time_s,
            trace=trace,
            trace_file=trace_file,
        )

    def _candidates(self, result: SearchResult) -> list[Candidate]:
        if self.vote is None:
            return list(result.candidates)
        return self.vote[1](result.samples, task_style(result.problem.task).equivalent)

    def _verify(self, problem: Problem, answer: str) -> Verdict:
        try:
            return self.verifier.verify(problem, answer)
        except Exception as exc:  # a grader crash on one answer must not end a long run
            logger.exception("verifier %s crashed on problem %s", getattr(self.verifier, "name", "?"), problem.id)
            return Verdict(status="error", detail=f"verifier raised {type(exc).__name__}: {exc}")

    def _samples(
        self, result: SearchResult, candidates: list[Candidate], verdicts: dict[str, Verdict]
    ) -> list[SampleRecord]:
        owner = {i: c.answer for c in candidates for i in c.sample_indices}
        equivalent = task_style(result.problem.task).equivalent
        groups = group_answers([s.answer for s in result.samples], equivalent)
        group_of = {i: g for g, members in enumerate(groups) for i in members}
        records = []
        for index, sample in enumerate(result.samples):
            if sample.answer is None:
                correct = False
            elif index in owner:
                correct = verdicts[owner[index]].passed
            else:
                correct = verdicts.setdefault(sample.answer, self._verify(result.problem, sample.answer)).passed
            records.append(
                SampleRecord(
                    text=sample.text, answer=sample.answer, finish_reason=sample.finish_reason,
                    generated_tokens=sample.generated_tokens, score=sample.score, correct=correct,
                    group=group_of.get(index), thinking=sample.thinking,
                )
            )
        return records

    def _trace(self, problem: Problem, trace: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        if not trace:
            return None, None
        text = json.dumps(trace, default=str)
        if len(text) <= INLINE_TRACE_BYTES:
            return json.loads(text), None
        relative = Path("traces") / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', problem.id or 'problem')}.json"
        (self.run_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (self.run_dir / relative).write_text(text, encoding="utf-8")
        return None, str(relative)


def _candidate_record(candidate: Candidate, verdict: Verdict) -> CandidateRecord:
    return CandidateRecord(
        answer=candidate.answer, votes=candidate.votes, score=candidate.score,
        sample_indices=candidate.sample_indices, correct=verdict.passed, verdict=verdict.status,
    )
