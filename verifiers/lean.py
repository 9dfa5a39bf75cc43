"""Verifier "lean": check a Lean 4 theorem with its proof, by a real Lean (see lean_backend.py).

The Lean file is built from the problem and the candidate: when the question states a theorem
(`theorem t (a b : Nat) : a + b = b + a := by sorry`), the candidate supplies the proof (the
whole theorem restated, or just `by ...`, `:= ...`, or bare tactics); otherwise the candidate's
own Lean code is checked as it is.

A verdict is `pass` only when Lean reports no error, the proof does not use `sorry`, and every
theorem checked depends on no axioms beyond Lean's standard three (`propext`, `Classical.choice`,
`Quot.sound`), as computed by Lean itself: `#print axioms` runs on each theorem after the file is
elaborated (the stated theorem; without a statement, every theorem, lemma and example in the file,
examples renamed so they can be named). So a user `axiom`, `sorryAx`, and `Lean.ofReduceBool` /
`Lean.trustCompiler` (what `native_decide` rests on; allowed only with `allow_native_decide=True`)
all fail the check, whatever the source looks like. With the WebAssembly Lean, which imports Init
as a module (an imported theorem's proof is hidden, so it prints as an axiom too), an imported name
counts as trusted library unless it is `sorryAx` or one of the compiler-trusting axioms, and any
axiom the file itself declared fails (see lean_checker.mjs). A text filter runs first and refuses
`axiom`, `@[implemented_by]`, `@[extern]`, `unsafe`, `debug.skipKernelTC` and `native_decide`: a
cheap first line, not the check. Running out of heartbeats (`maxHeartbeats`, set per check) or of
wall time is a `timeout`; no Lean to run is an `error` with rule "lean:unavailable".
Leaves out: Mathlib (not in the WebAssembly library); a `private theorem` cannot be named from
outside, so it fails the check (closed, not open).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
_UNTRUSTED = re.compile(
    r"\baxiom\b|@\[\s*(?:implemented_by|extern)\b|\bimplemented_by\b|\bextern\b|\bunsafe\b|\bdebug\.skipKernelTC\b"
)
STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
"""The axioms a proof may use."""
NATIVE_AXIOMS = frozenset({"Lean.ofReduceBool", "Lean.ofReduceNat", "Lean.trustCompiler"})
"""What `native_decide` and friends rest on: the compiler is trusted instead of the kernel."""
_DENIED_IMPORTS = frozenset({"sorryAx"}) | NATIVE_AXIOMS
"""Imported axioms that are never library facts (for a backend whose imports hide proofs)."""
_THEOREM = re.compile(
    r"^\s*(?:@\[[^\]]*\]\s*)*(?:(?:protected|noncomputable|nonrec)\s+)*"
    r"(?P<kind>theorem|lemma|example)\b(?:\s+(?P<name>[^\s:({\[]+))?",
    re.MULTILINE,
)
_SCOPE = re.compile(r"^\s*(namespace|end|section)\b[ \t]*([^\s]*)", re.MULTILINE)
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
        statement = formal_statement(problem)
        stated = _THEOREM.search(statement) if statement else None
        names = [stated.group("name")] if stated and stated.group("name") else None
        return self.check_source(source, names)

    def source(self, problem: Problem, candidate: str) -> str | None:
        """The Lean file this verifier checks for `candidate` (see `lean_source`)."""
        return lean_source(problem, candidate)

    def check_source(self, source: str, names: Sequence[str] | None = None, text_filter: bool = True) -> Verdict:
        """Check a whole Lean file (Init and Std are available; no imports needed): it must elaborate
        without errors or sorry, and each theorem in `names` (None: every theorem, lemma and example
        in the file) must rest on the standard axioms alone (a file that states no theorem passes when it
        elaborates: it claims nothing). `text_filter=False` skips the source-text refusals, leaving the
        decision to Lean's own environment (tests use it to show that suffices)."""
        if text_filter and (refused := refused_text(source, self.config.allow_native_decide)):
            return Verdict(status="fail", rule=self.name, detail=refused)
        source, found = (source, list(names)) if names is not None else named_theorems(source)
        config = self.config
        imports, body = _split_imports(source)
        asked = "".join(f"\n#print axioms _root_.{name}" for name in found)
        try:
            backend = lean_backend(config.backend, config.lean_path, config.startup_timeout_s)
            run = backend.check(f"{imports}set_option maxHeartbeats {config.heartbeats}\n{body}{asked}\n", config.timeout_s)
        except LeanUnavailableError as exc:
            return Verdict(status="error", rule=UNAVAILABLE, detail=str(exc))
        verdict = verdict_from_run(run, self.name, line_offset=1)
        if verdict.status != "pass":
            return verdict
        return axiom_verdict(run, found, self.config.allow_native_decide) or verdict


def refused_text(source: str, allow_native: bool) -> str | None:
    """Why the source is refused before Lean sees it (a first filter; Lean's axiom check decides)."""
    if not allow_native and _NATIVE.search(source):
        return "native_decide is not allowed (it trusts the compiler, not the kernel)"
    if match := _UNTRUSTED.search(source):
        return f"`{match.group(0)}` is not allowed: it can make Lean trust what its kernel did not check"
    return None


def axiom_verdict(run: LeanRun, names: Sequence[str], allow_native: bool) -> Verdict | None:
    """A fail when a checked theorem rests on an axiom beyond the standard ones; None when all are clean."""
    allowed = STANDARD_AXIOMS | (NATIVE_AXIOMS if allow_native else frozenset())
    for name in names:
        listed = run.axioms.get(name)
        if listed is None:
            return Verdict(status="fail", rule="lean:axioms", detail=f"Lean reported no axioms for {name!r}")
        bad = [a for a in listed if _untrusted_axiom(a, allowed, run.declared_here)]
        if bad:
            return Verdict(status="fail", rule="lean:axioms",
                           detail=f"{name!r} depends on {', '.join(bad)}; only {', '.join(sorted(allowed))} are accepted")
    return None


def _untrusted_axiom(axiom: str, allowed: frozenset[str], declared_here: frozenset[str] | None) -> bool:
    if axiom in allowed:
        return False
    if declared_here is None:  # a backend that sees imported proofs: every name listed is a true axiom
        return True
    return axiom in declared_here or axiom in _DENIED_IMPORTS


def named_theorems(source: str) -> tuple[str, list[str]]:
    """The source with each `example` named, and the full names of its theorems, lemmas and examples.

    Example: "namespace A\ntheorem t : True := trivial\nend A\nexample : 1 = 1 := rfl"
        -> (..."theorem reason_example_1 : 1 = 1 := rfl", ["A.t", "reason_example_1"])
    """
    names: list[str] = []
    pieces: list[str] = []
    at = 0
    for match in _THEOREM.finditer(source):
        name = match.group("name")
        if match.group("kind") == "example":
            name = f"reason_example_{sum(1 for n in names if n.startswith('reason_example_')) + 1}"
            pieces.append(source[at : match.start("kind")] + f"theorem {name}")
            at = match.end("kind")
        if name:
            names.append(".".join([*_open_namespaces(source, match.start()), name.removeprefix("_root_.")]))
    return "".join(pieces) + source[at:], names


def _open_namespaces(source: str, before: int) -> list[str]:
    stack: list[tuple[str, str]] = []
    for match in _SCOPE.finditer(source, 0, before):
        kind, name = match.group(1), match.group(2)
        if kind == "end":
            if stack:
                stack.pop()
        else:
            stack.append((kind, name))
    return [part for kind, name in stack if kind == "namespace" for part in name.split(".") if part]
