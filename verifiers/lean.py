"""Verifier "lean": check a Lean 4 theorem with its proof, by a real Lean (see lean_backend.py).

The Lean file is built from the problem and the candidate: when the question states a theorem
(`theorem t (a b : Nat) : a + b = b + a := by sorry`), the candidate supplies the proof (the
whole theorem restated, or just `by ...`, `:= ...`, or bare tactics); otherwise the candidate's
own Lean code is checked as it is.

A verdict is `pass` only when Lean reports no error and the proof does not use `sorry` (Lean
only warns about it, and exits 0). `native_decide` (and `decide +native`, which trust the
compiler instead of the kernel) is refused unless `allow_native_decide=True`; this is a check
on the source text, since the WebAssembly Lean cannot run `#print axioms` (it treats every file
as a module). Running out of heartbeats (`maxHeartbeats`, set per check) or of wall time is a
`timeout`; no Lean to run is an `error` with rule "lean:unavailable".
Leaves out: Mathlib (not in the WebAssembly library), and checking which axioms a proof uses.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from reason.types import Frozen, Problem, Verdict
from reason.verifiers.lean_backend import (
    LeanMessage,
    LeanRun,
    LeanUnavailableError,
    lean_backend,
)

UNAVAILABLE = "lean:unavailable"
"""The rule of an `error` verdict given because there is no Lean to run."""

_NATIVE = re.compile(r"\bnative_decide\b|\bdecide\s*\+native\b|\bLean\.ofReduceBool\b|\bLean\.trustCompiler\b")
_SORRY = re.compile(r"declaration uses ['`]sorry['`]")
_LEAN_FENCE = re.compile(r"```[ \t]*lean4?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_DECLARATION = re.compile(r"^\s*(theorem|lemma|example)\b", re.MULTILINE)


class LeanConfig(Frozen):
    backend: Literal["auto", "native", "wasm"] = "auto"
    """"auto": the user's own `lean` when there is one, else the installed WebAssembly Lean."""
    lean_path: str | None = None
    """The user's `lean` executable; None looks it up on PATH."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Wall time for one check; the WebAssembly checker is restarted after an overrun."""
    heartbeats: int = Field(default=200_000, ge=0)
    """Lean's deterministic limit (`maxHeartbeats`, thousands of small allocations); 0 means none."""
    allow_native_decide: bool = False
    startup_timeout_s: float = Field(default=900.0, gt=0)
    """How long the WebAssembly checker may take to load (about 35 s on an idle machine)."""


def lean_code(text: str) -> str | None:
    """The Lean in a text: its last ```lean block, else the text itself when it looks like Lean."""
    blocks = _LEAN_FENCE.findall(text)
    if blocks:
        return blocks[-1].strip()
    stripped = text.strip()
    if _DECLARATION.search(stripped) or stripped.startswith((":=", "by")):
        return stripped
    return None


def formal_statement(problem: Problem) -> str | None:
    """The theorem the problem states, without a placeholder proof (`:= by sorry`, `:= sorry`, `:=`)."""
    code = lean_code(problem.question)
    if code is None or not _DECLARATION.search(code):
        return None
    return re.sub(r":=\s*(by\s+)?sorry\s*$", "", code).rstrip().removesuffix(":=").rstrip()


def lean_source(problem: Problem, candidate: str) -> str | None:
    """The Lean file to check, or None when there is nothing to check (or the candidate proves another theorem).

    Example: statement "theorem t : 1 + 1 = 2 := by sorry", candidate "by decide"
        -> "theorem t : 1 + 1 = 2 := by decide"
    """
    statement, code = formal_statement(problem), lean_code(candidate)
    if statement is None:
        return code
    code = code if code is not None else candidate.strip()
    if not code:
        return None
    head, squashed = " ".join(statement.split()), " ".join(code.split())
    if squashed.startswith(head):  # the whole theorem, restated: keep the candidate's own layout of the proof
        proof = code[_end_of_statement(code, statement) :].strip()
    elif _DECLARATION.match(code):
        return None
    else:
        proof = code
    if not proof.startswith((":=", "by")):
        proof = "by\n" + "\n".join("  " + line for line in proof.splitlines())
    return f"{statement} {proof if proof.startswith(':=') else ':= ' + proof}\n"


def _end_of_statement(code: str, statement: str) -> int:
    """Index in `code` just past the restated statement (whitespace may differ)."""
    wanted = len("".join(statement.split()))
    seen = 0
    for index, char in enumerate(code):
        if not char.isspace():
            seen += 1
            if seen == wanted:
                return index + 1
    return len(code)


def _split_imports(source: str) -> tuple[str, str]:
    """Leading `import` lines (which must stay first) and the rest."""
    lines = source.splitlines(keepends=True)
    count = 0
    while count < len(lines) and (lines[count].startswith("import ") or not lines[count].strip()):
        count += 1
    return "".join(lines[:count]), "".join(lines[count:])


def verdict_from_run(run: LeanRun, rule: str = "lean", line_offset: int = 0) -> Verdict:
    """Lean's answer as a verdict; `line_offset` lines added in front of the checked text are taken off messages."""
    if run.status == "timeout":
        return Verdict(status="timeout", rule=rule, detail=f"Lean did not finish in {run.ms / 1000:.0f} s")
    if run.status == "crashed":
        return Verdict(status="error", rule=rule, detail="the Lean checker died during the check")
    errors = [m for m in run.messages if m.severity == "error"]
    if any("heartbeats" in m.text and "timeout" in m.text for m in errors):
        return Verdict(status="timeout", rule=rule, detail=_describe(errors, line_offset))
    if errors:
        return Verdict(status="fail", rule=rule, detail=_describe(errors, line_offset))
    if any(_SORRY.search(m.text) for m in run.messages):
        return Verdict(status="fail", rule=rule, detail="the proof uses sorry")
    if run.exit_code != 0:
        return Verdict(status="fail", rule=rule, detail=f"Lean exited with {run.exit_code}: {run.output.strip()[-500:]}")
    return Verdict(status="pass", rule=rule, detail=f"checked by Lean in {run.ms:.0f} ms")


def _describe(errors: list[LeanMessage], line_offset: int, limit: int = 1500) -> str:
    return "\n".join(f"{m.line - line_offset}:{m.column}: {m.severity}: {m.text}" for m in errors)[:limit]


class LeanVerifier:
    """Verifier "lean".

    Args:
        **config: `LeanConfig` fields.

    Example:
        >>> LeanVerifier().verify(Problem(question="theorem t : 2 + 2 = 4 := by sorry"), "by decide").status  # doctest: +SKIP
        'pass'
    """

    name = "lean"

    def __init__(self, **config: object) -> None:
        self.config = LeanConfig(**config)  # type: ignore[arg-type]

    def verify(self, problem: Problem, candidate: str) -> Verdict:
        source = lean_source(problem, candidate)
        if source is None:
            if formal_statement(problem) is not None:
                return Verdict(status="fail", rule=self.name, detail="the candidate proves a different theorem")
            return Verdict(status="error", rule=self.name, detail="no Lean code to check")
        return self.check_source(source)

    def source(self, problem: Problem, candidate: str) -> str | None:
        """The Lean file this verifier checks for `candidate` (see `lean_source`)."""
        return lean_source(problem, candidate)

    def check_source(self, source: str) -> Verdict:
        """Check a whole Lean file (Init and Std are available; no imports needed)."""
        if not self.config.allow_native_decide and _NATIVE.search(source):
            return Verdict(status="fail", rule=self.name, detail="native_decide is not allowed (it trusts the compiler, not the kernel)")
        config = self.config
        imports, body = _split_imports(source)
        try:
            backend = lean_backend(config.backend, config.lean_path, config.startup_timeout_s)
            run = backend.check(f"{imports}set_option maxHeartbeats {config.heartbeats}\n{body}", config.timeout_s)
        except LeanUnavailableError as exc:
            return Verdict(status="error", rule=UNAVAILABLE, detail=str(exc))
        return verdict_from_run(run, self.name, line_offset=1)
