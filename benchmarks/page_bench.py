"""How fast the trace explorer page draws, in a real headless Chromium on this machine, measured in one run.

Pages: a real MCTS search of about 2,100 nodes (scripted steps and PRM), and a 1,000-problem beam-search
run (n=4, width=2; a real `reason bench` run directory on a scripted model). For each: the page's size, the time its own
script took to draw (measured in the page, `performance.now()` around its main function), and the time
from navigation until the page is laid out (style and layout forced). For the run: opening one problem (its tree drawn) and filtering the
list. The issue's budget: under a second for the tree. Each figure is the median of `--repeat` loads.

Usage: python benchmarks/page_bench.py [--repeat 5] [--problems 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import Browser
from page_fixtures import arithmetic_run, mcts_result

from reason.show import write_page

OPEN_PROBLEM = ("(() => { const t = performance.now(); document.querySelector('[data-problem=\"p500\"]').click();"
                " document.body.offsetHeight; return [performance.now() - t, document.querySelectorAll('[data-node]').length]; })()")
FILTER = ("(() => { const t = performance.now(); document.querySelector('[data-filter=\"wrong\"]').click();"
          " const s = document.querySelector('.filters input'); s.value = 'what is 4'; s.dispatchEvent(new Event('input'));"
          " document.body.offsetHeight; return performance.now() - t; })()")


def load(browser: Browser, page: Path) -> tuple[float, float]:
    """(the page script's own drawing time, ms from navigation until the page is laid out)."""
    browser.open(page)
    draw = float(browser.evaluate("Number(document.documentElement.dataset.renderMs)"))
    return draw, float(browser.evaluate("(() => { document.body.offsetHeight; return performance.now(); })()"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--problems", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="page-bench-"))
    tree_page = work / "mcts.html"
    result = mcts_result()
    tree_page.write_text(result.to_html(), encoding="utf-8")
    run_dir = arithmetic_run(work, args.problems, params={"n": 4, "width": 2, "prm": "fake"})
    run_page = write_page(run_dir, work / "run.html")
    rows = []
    with Browser() as browser:
        for label, page in ((f"MCTS tree, {result.tree.number_of_nodes()} nodes", tree_page),
                            (f"beam run, {args.problems} problems", run_page)):
            loads = [load(browser, page) for _ in range(args.repeat)]
            assert not browser.errors(), browser.errors()
            draw, wall = statistics.median(x[0] for x in loads), statistics.median(x[1] for x in loads)
            rows.append((label, page.stat().st_size / 1e6, draw, wall))
        opens = [browser.evaluate(OPEN_PROBLEM) for _ in range(args.repeat)]
        filters = [browser.evaluate(FILTER) for _ in range(args.repeat)]
    print(f"{'page':32} {'MB':>6} {'script draw ms':>15} {'laid out, ms from navigation':>29}")
    for label, size, draw, wall in rows:
        print(f"{label:32} {size:6.2f} {draw:15.0f} {wall:29.0f}")
    print(f"run page: open one problem (its tree, {opens[0][1]} nodes): {statistics.median(o[0] for o in opens):.0f} ms; "
          f"filter + search the list: {statistics.median(filters):.0f} ms")


if __name__ == "__main__":
    main()
