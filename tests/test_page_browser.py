"""The trace explorer in a real headless Chromium (Debian's `chromium`; tests/browser.py drives it over the
DevTools protocol): every node drawn, no script errors, no network, collapsing, node detail, the chosen
path, model text that tries to inject markup, a run's filters and search, a sweep's plot, a 2,100-node tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import Browser, chromium_binary
from page_fixtures import INJECTED, arithmetic_run, beam_result, mcts_result

from reason.show import write_page

pytestmark = pytest.mark.skipif(chromium_binary() is None, reason="no chromium (scripts/setup.sh installs it as root)")

VISIBLE = "(el) => el.style.display !== 'none' && el.offsetParent !== null"


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def show(browser: Browser, path: Path) -> None:
    browser.open(path)
    browser.settle(0.2)


def page_of(result, tmp_path: Path, name: str = "page.html") -> Path:
    path = tmp_path / name
    path.write_text(result.to_html(), encoding="utf-8")
    return path


def visible_nodes(browser: Browser) -> list[int]:
    return browser.evaluate(f"[...document.querySelectorAll('[data-node]')].filter({VISIBLE})"
                            ".map((e) => Number(e.dataset.node))")


def test_every_node_is_drawn_once_with_no_script_error_and_no_request(browser, tmp_path):
    result = beam_result()
    page = page_of(result, tmp_path)
    show(browser, page)
    ids = browser.evaluate("[...document.querySelectorAll('[data-node]')].map((e) => Number(e.dataset.node))")
    assert sorted(ids) == sorted(result.tree.nodes)
    assert browser.errors() == []
    assert browser.requests() == [page.resolve().as_uri()]  # the file itself, nothing else
    assert browser.evaluate("document.querySelectorAll('.node.chosen').length") == 3


def test_injected_markup_in_model_text_stays_text(browser, tmp_path):
    show(browser, page_of(beam_result(), tmp_path))
    assert browser.evaluate("window.__pwned === undefined && document.title !== 'pwned'")
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    texts = browser.evaluate("[...document.querySelectorAll('.node .snip')].map((e) => e.textContent)")
    assert f"Let me think {INJECTED}" in texts
    assert browser.errors() == []  # nothing was even attempted: no CSP report either


def test_collapsing_a_node_hides_its_subtree_and_expanding_shows_it_again(browser, tmp_path):
    result = beam_result()
    show(browser, page_of(result, tmp_path))
    everything = sorted(visible_nodes(browser))
    assert everything == sorted(result.tree.nodes)
    first = next(n for n in result.tree.successors(0) if result.tree.out_degree(n))
    below = set(__import__("networkx").descendants(result.tree, first))
    browser.evaluate(f"document.querySelector('[data-toggle=\"{first}\"]').click()")
    assert set(visible_nodes(browser)) == set(everything) - below
    browser.evaluate(f"document.querySelector('[data-toggle=\"{first}\"]').click()")
    assert sorted(visible_nodes(browser)) == everything
    browser.evaluate("[...document.querySelectorAll('.toolbar button')].find((b) => b.textContent.startsWith('collapse')).click()")
    deep = {n for n, d in result.tree.nodes(data=True) if d["depth"] > 2}
    assert deep and not deep & set(visible_nodes(browser))
    assert browser.errors() == []


def test_clicking_a_node_shows_its_step_scores_and_answer(browser, tmp_path):
    result = beam_result()
    show(browser, page_of(result, tmp_path))
    final = next(n for n, d in result.tree.nodes(data=True) if d["answer"] == "96")
    browser.evaluate(f"document.querySelector('[data-node=\"{final}\"]').click()")
    detail = browser.evaluate("document.querySelector('.details').innerText")
    assert "The answer is 96." in detail and "0.300" in detail and "fail" in detail and "96" in detail


def test_pan_and_zoom_move_the_drawing(browser, tmp_path):
    show(browser, page_of(beam_result(), tmp_path))
    before = browser.evaluate("document.querySelector('.canvas').style.transform")
    browser.evaluate("document.querySelector('.viewport').dispatchEvent(new WheelEvent('wheel', "
                     "{deltaY: -400, clientX: 300, clientY: 300, bubbles: true, cancelable: true}))")
    zoomed = browser.evaluate("document.querySelector('.canvas').style.transform")
    assert zoomed != before and "scale(" in zoomed
    browser.evaluate("const v = document.querySelector('.viewport');"
                     "v.dispatchEvent(new PointerEvent('pointerdown', {clientX: 100, clientY: 100, bubbles: true}));"
                     "window.dispatchEvent(new PointerEvent('pointermove', {clientX: 180, clientY: 150}));"
                     "window.dispatchEvent(new PointerEvent('pointerup', {}))")
    assert browser.evaluate("document.querySelector('.canvas').style.transform") != zoomed


def test_a_2000_node_mcts_tree_is_drawn_whole(browser, tmp_path):
    result = mcts_result()
    assert result.tree.number_of_nodes() >= 2000
    show(browser, page_of(result, tmp_path))
    assert browser.evaluate("document.querySelectorAll('[data-node]').length") == result.tree.number_of_nodes()
    assert browser.evaluate("window.__pwned === undefined")
    assert browser.errors() == []
    visits = browser.evaluate("[...document.querySelectorAll('.node .head')].filter((e) => / n \\d+/.test(e.textContent)).length")
    assert visits > 100  # MCTS statistics are on the nodes


def test_a_run_page_filters_searches_and_opens_each_problem(browser, tmp_path):
    run_dir = arithmetic_run(tmp_path, 12)
    page = write_page(run_dir, tmp_path / "run.html")
    show(browser, page)
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    wrong = sum(not r["correct"] and r["predicted"] is not None for r in records)
    assert browser.evaluate("document.querySelectorAll('ul.problems li').length") == 12

    def shown() -> list[str]:
        return browser.evaluate("[...document.querySelectorAll('ul.problems li')].filter((li) => !li.hidden)"
                                ".map((li) => li.dataset.problem)")

    browser.evaluate("document.querySelector('[data-filter=\"wrong\"]').click()")
    assert len(shown()) == wrong
    browser.evaluate("document.querySelector('[data-filter=\"all\"]').click()")
    browser.evaluate("const s = document.querySelector('.filters input'); s.value = 'what is 7 +';"
                     "s.dispatchEvent(new Event('input'))")
    assert shown() == ["p7"]
    browser.evaluate("document.querySelector('[data-problem=\"p7\"]').click()")
    nodes = len(records[7]["trace"]["tree"]["nodes"])
    assert browser.evaluate("document.querySelectorAll('[data-node]').length") == nodes
    assert browser.errors() == [] and len(browser.requests()) == 1


def test_a_sweep_page_plots_every_point_and_opens_its_run(browser, tmp_path):
    from test_bench_support import arithmetic_generator, write_arithmetic

    from reason.bench.sweep import SweepConfig, run_sweep
    from reason.bench_cli import _write_sweep

    data = write_arithmetic(tmp_path / "arith.jsonl", 4)
    config = SweepConfig(dataset=str(data), strategies=("cot", "self-consistency"), budgets=(30, 60),
                         common={"max_tokens": 32}, backend="fake", question_field="q", answer_field="a", id_field="id")
    points = run_sweep(config, tmp_path / "sweep", arithmetic_generator(wrong_every=3))
    _write_sweep(points, tmp_path / "sweep", tmp_path / "sweep" / "sweep.png", "arith")
    show(browser, write_page(tmp_path / "sweep", tmp_path / "sweep.html"))
    assert browser.evaluate("document.querySelectorAll('svg.plot circle').length") == len(points)
    browser.evaluate("document.querySelectorAll('tr.clickable')[1].click()")
    assert browser.evaluate("document.querySelectorAll('ul.problems li').length") == 4
    assert browser.errors() == []


def test_the_notebook_view_draws_inside_its_sandboxed_iframe(tmp_path):
    result = beam_result()
    page = tmp_path / "notebook.html"
    page.write_text(f"<!DOCTYPE html><html><body><h1>a notebook cell</h1>{result._repr_html_()}</body></html>")
    with Browser(one_process_per_page=True) as browser:
        show(browser, page)
        assert browser.evaluate("document.querySelectorAll('[data-node]').length") == 0  # nothing leaks out
        assert browser.evaluate_in_frame("document.querySelectorAll('[data-node]').length") == result.tree.number_of_nodes()
        assert browser.evaluate_in_frame("document.querySelectorAll('img').length") == 0
        assert browser.errors() == []


def test_show_open_hands_the_page_to_the_browser(tmp_path):
    import os
    import subprocess
    import sys

    saved = tmp_path / "r.json"
    saved.write_text(beam_result().model_dump_json())
    opener = tmp_path / "opener.sh"
    opener.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path / 'opened'}\n")
    opener.chmod(0o755)
    out = subprocess.run([str(Path(sys.executable).parent / "reason"), "show", str(saved), "--open"], capture_output=True, text=True,
                         env={**os.environ, "BROWSER": f"{opener} %s"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "opened").read_text().strip() == (tmp_path / "r.html").resolve().as_uri()
