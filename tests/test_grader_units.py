"""Grader parts one at a time: normalisation, parsing, tiers and their rules, the SymPy tier,
the verdict, the "math" verifier plugin, and answer voting through the task styles."""

from __future__ import annotations

from fractions import Fraction

import pytest

from reason.registry import registry
from reason.searchers.self_consistency import SelfConsistency
from reason.tasks import task_style
from reason.testing import FakeGenerator
from reason.types import Problem
from reason.verifiers.equivalence import Comparer
from reason.verifiers.grader import Grader, GraderConfig, equivalent, shared_pool
from reason.verifiers.latex import ParseError, parse_answer, read_answer
from reason.verifiers.nodes import (
    Choice,
    Interval,
    Matrix,
    Num,
    Relation,
    Seq,
    Sym,
    Text,
    Union,
)
from reason.verifiers.normalize import normalize
from reason.verifiers.symbolic import SympyTier
from reason.verifiers.timelimit import WorkerPool


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$\\$1,234.50$", "1234.50"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("\\tfrac12", "\\frac12"),
        ("15\\mbox{ cm}^2", "15"),
        ("5.4 \\text{ cents}", "5.4"),
        ("\\text{Evelyn}", "Evelyn"),
        ("\\text{(B)}", "(B)"),
        ("10,\\!080", "10080"),
        ("11,\\! 111,\\! 111,\\! 100", "11111111100"),
        ("(2,12) \\cup (12,102)", "(2,12) \\cup (12,102)"),  # commas inside brackets are not thousands
        ("106^\\circ", "106"),
        ("30^{\\circ}", "30"),
        ("50\\%", "50"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "( 3, \\frac{\\pi}{2} )"),
        ("204_5", "204"),
        ("4210_{5}", "4210"),
        ("18 dollars", "18"),
        ("2 pi", "2 pi"),
        ("\u22125", "-5"),
        ("1 \\text{ and } 2", "1 , 2"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected  # idempotent


def test_parse_structures():
    assert parse_answer("(1, \\frac{1}{2}]") == Interval(Num(1), parse_answer("\\frac12"), False, True)  # type: ignore[arg-type]
    assert parse_answer("137 \\frac{1}{2}") == Num(Fraction(275, 2))  # a mixed number, not a product
    assert parse_answer("2\\frac{1}{2}") == parse_answer("2.5") == Num(Fraction(5, 2))
    assert parse_answer("0.\\overline{3}") == Num(Fraction(1, 3))
    assert parse_answer("0.1\\overline{6}") == Num(Fraction(1, 6))
    assert isinstance(parse_answer("(-\\infty, 2) \\cup (3, \\infty)"), Union)
    assert parse_answer("x \\in [-2,7]") == Relation("in", Sym("x"), parse_answer("[-2,7]"))
    assert parse_answer("2 < x \\le 5") == Relation("in", Sym("x"), Interval(Num(2), Num(5), False, True))  # type: ignore[arg-type]
    assert parse_answer("y > 3") == Relation("<", Num(3), Sym("y"))  # type: ignore[arg-type]
    assert isinstance(parse_answer("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}"), Matrix)
    assert parse_answer("\\{1\\pm\\sqrt{5},-2\\}").kind == "set" and len(parse_answer("\\{1\\pm\\sqrt{5},-2\\}").items) == 3  # type: ignore[union-attr]
    assert parse_answer("(B)") == parse_answer("B") == Choice("B")
    assert parse_answer("Evelyn") == Text("evelyn")
    assert parse_answer("3, 5, 7") == Seq((Num(3), Num(5), Num(7)), "list")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["\\frac{1}{2", "\\int_0^1 x dx", "(1,2", "1 +", "\\unknown{3}", "(" * 60 + "1" + ")" * 60])
def test_unparseable_answers_raise_and_read_as_text(bad):
    with pytest.raises(ParseError):
        parse_answer(normalize(bad))
    assert isinstance(read_answer(normalize(bad)), Text)


@pytest.mark.parametrize(
    ("prediction", "reference", "status", "rule"),
    [
        ("18", "18", "pass", "string"),
        ("0.5", "\\frac{1}{2}", "pass", "rational"),
        ("\\sqrt{20}", "2\\sqrt{5}", "pass", "numeric"),
        ("(x+1)^2", "x^2+2x+1", "pass", "identity"),
        ("(x+1)^2", "x^2+1", "fail", "identity"),
        ("\\text{Even}", "even", "pass", "text"),
        ("\\textbf{(B)}", "\\text{(B)}", "pass", "string"),
        ("B", "\\text{(B)}", "pass", "choice"),
        ("(C)", "\\text{(B)}", "fail", "choice"),
        ("(1,2)", "(1,2,3)", "fail", "structure"),
        ("[2,5)", "[2,5]", "fail", "structure"),
        ("-\\infty", "\\infty", "fail", "infinity"),
        (None, "3", "fail", "no-answer"),
        ("  ", "3", "fail", "no-answer"),
        ("$$", "3", "fail", "no-answer"),
    ],
)
def test_verdict_names_the_deciding_rule(prediction, reference, status, rule):
    verdict = Grader().grade(prediction, reference)
    assert (verdict.status, verdict.rule) == (status, rule)


def test_verdict_carries_the_normal_forms():
    verdict = Grader().grade("$\\dfrac{1}{2}$", "0.5")
    assert verdict.parsed == ("\\frac{1}{2}", "0.5")


@pytest.fixture(scope="module")
def pool() -> WorkerPool:
    return shared_pool()  # the process's own SymPy worker, as graders use by default


def test_sympy_decides_what_floats_cannot(pool):
    grader = Grader(pool=pool)
    verdict = grader.grade("2^{2^{20}}", "4^{2^{19}}")
    assert (verdict.status, verdict.rule) == ("pass", "sympy")
    assert grader.grade("2^{2^{20}}", "4^{2^{19}} + 1").status == "fail"


def test_confirmed_identities_go_through_sympy(pool):
    grader = Grader(GraderConfig(confirm_identities=True), pool=pool)
    assert (grader.grade("(x+1)^2", "x^2+2x+1").rule, grader.grade("(x+1)^2", "x^2+2x+1").status) == ("sympy", "pass")
    assert grader.grade("\\frac{\\cos x}{\\sin x}", "\\cot x").passed
    assert grader.grade("(x+1)^2", "x^2+1").rule == "identity"  # disproved numerically before SymPy is asked


def test_sympy_tier_directly():
    tier = SympyTier()
    assert tier.equal(parse_answer("\\sin^2 x + \\cos^2 x"), parse_answer("1"))  # type: ignore[arg-type]
    assert not tier.equal(parse_answer("x^2"), parse_answer("x^3"))  # type: ignore[arg-type]
    assert tier.proportional(parse_answer("2x - 2y"), parse_answer("y - x"), positive=False)  # type: ignore[arg-type]
    assert not tier.proportional(parse_answer("2x - 2y"), parse_answer("y - x"), positive=True)  # type: ignore[arg-type]


def test_long_answers_are_only_parsed_in_the_worker(pool):
    closed = WorkerPool()
    closed.close()
    short_limit = GraderConfig(max_inline_chars=5)
    assert Grader(short_limit, pool=closed).grade("1+1+1+1", "4").status == "error"  # had to go to the (closed) worker
    assert Grader(short_limit, pool=pool).grade("1+1+1+1", "4").passed
    assert Grader(pool=closed).grade("1+1+1+1", "4").passed  # inline by default: no worker needed


def test_comparer_without_sympy_tier_raises_undecided():
    from reason.verifiers.equivalence import Undecided

    with pytest.raises(Undecided):
        Comparer().same(parse_answer("2^{2^{20}}"), parse_answer("4^{2^{19}}"))


def test_math_verifier_plugin():
    verifier = registry.get("verifier", "math")()
    assert verifier.name == "math"
    assert verifier.verify(Problem(question="half?", answer="\\frac12", task="math"), "0.5").passed
    assert verifier.verify(Problem(question="half?", answer="\\frac12", task="math"), "0.6").status == "fail"
    assert verifier.verify(Problem(question="half?"), "0.5").status == "error"
    strict = registry.get("verifier", "math")(rel_tol=1e-3)
    assert strict.grader.config.rel_tol == 1e-3


def test_task_styles_use_the_grader_equivalence():
    assert task_style("math").equivalent is equivalent
    assert task_style("gsm8k").equivalent("1,000", "1000.00")
    assert task_style("math").equivalent("\\frac{1}{2}", "0.5")


def test_self_consistency_counts_equivalent_answers_as_one():
    generator = FakeGenerator(
        ["The answer is 0.5.", "The answer is 3.", "So \\boxed{\\frac{1}{2}}.", "The answer is 1/2.", "The answer is $3$."]
    )
    result = SelfConsistency(n=5).search(Problem(question="What is half of one?", task="math"), generator)
    assert [(c.votes, c.sample_indices) for c in result.candidates] == [(3, (0, 2, 3)), (2, (1, 4))]
    assert result.answer == "0.5"


def test_self_consistency_on_gsm8k_answers():
    generator = FakeGenerator(["#### 1,000", "The answer is $1000.", "#### 999", "The answer is 1000.00 dollars."])
    result = SelfConsistency(n=4).search(Problem(question="How many?", task="gsm8k"), generator)
    assert result.candidates[0].votes == 3


def test_a_deep_caller_stack_is_retried_in_the_worker_and_not_remembered(pool):
    import inspect
    import sys

    grader = Grader(pool=pool)
    answer = "-" * 60 + "x"  # (-1)^60 x: needs ~80 frames to parse

    def deep(levels: int):
        return grader.grade(answer, "x") if levels == 0 else deep(levels - 1)

    spare = 40  # too few to parse here, enough to hand the grading to the worker
    verdict = deep(sys.getrecursionlimit() - len(inspect.stack()) - spare)
    assert verdict.passed, verdict
    assert Grader(pool=pool).grade(answer, "x").passed  # the failed in-process parse was not memoised


@pytest.mark.parametrize(("prediction", "reference", "status"), [
    ("14 {, }916", "14916", "pass"),  # LaTeX's thousands comma, however spaced
    ("0,111", "111", "fail"),  # a leading zero is not a thousands group
    ("(7,11), (11,7)", "(11,7)or(7,11)", "pass"),  # "or" written against its neighbours
    ("x = 2, y = 3", "x_{1}=2,\\quadx_{2}=3", "fail"),  # \quadx is \quad then x: two different unknowns
    ("1, 2", "x_{1}=1,\\quadx_{1}=2", "pass"),
    ("W(x)=1orW(x)=-1", "\\\\boxed{W(n) = 1 \\\\text{ and } W(n) = -1", "pass"),  # an unclosed box, one unknown
    ("x=2,y=1", "x=1,y=2", "fail"),  # different unknowns keep their names
    ("(4,0,6),(0,-2,0)", "(0;-2;0),(4;0;6)", "pass"),  # semicolons inside a tuple separate its places
])
def test_separators_and_one_unknown_lists(prediction, reference, status):
    assert Grader().grade(prediction, reference).status == status


@pytest.mark.parametrize(("prediction", "reference", "status"), [
    ("11:21", "V_{1}:V_{2}=11:21", "pass"),  # a ratio named by what it compares
    ("22:42", "11:21", "pass"),
    ("11:20", "11:21", "fail"),
    ("1", "A:B=1", "pass"),
    ("12:00", "12:00", "pass"),  # a time of day stays text
    ("1:00", "12:00", "fail"),
    ("(5,2),(7,2)", "p=5,q=2;p=7,q=2", "pass"),  # semicolons between groups of assignments
    ("(5,2),(2,7)", "p=5,q=2;p=7,q=2", "fail"),
    ("(0,1)", "0<f(x)<1", "pass"),  # a chain bounds f(x) as it bounds x
    ("[0,1)", "0<f(x)<1", "fail"),
    ("z \\in [-\\frac{3}{2}, -1] \\cup [1, \\frac{3}{2}]", "1\\leq|z|\\leq \\frac{3}{2}", "pass"),  # |z| between bounds
    ("z \\in [1, \\frac{3}{2}]", "1\\leq|z|\\leq \\frac{3}{2}", "fail"),
    ("0", "1 = \\zzz = x = 0", "pass"),  # an equality chain states its last member, whatever it passes through
    ("\\vec{v}", "v", "fail"),  # a macro with an argument is not a symbol
    ("1000,99", "1000.99", "pass"), ("1.22", "1,22", "pass"), ("0.111", "0,111", "pass"),  # decimal commas
    ("-2.1", "-2,1", "fail"), ("1,000", "1.000", "fail"),  # a list, thousands
    ("\\frac{10}{9}", "\\frac{1}{2} \\cdot \\frac{20}{9} = \\frac{10}{9}", "pass"),  # a computation states its result
    ("11a+c", "7 = 11a+c", "fail"),
    ("\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}", "\\begin{pmatrix}1&0\\\\0&1\\\\\\end{pmatrix}", "pass"),  # a last row break
])
def test_ratios_groups_and_chains(prediction, reference, status):
    assert Grader().grade(prediction, reference).status == status
