"""The README's picture of the trace explorer: a real beam search on GSM8K with the bundled model, drawn by
`reason show` and photographed in headless Chromium (tests/browser.py).

Runs (or resumes) `reason bench run gsm8k -s beam` on the first problems, writes the run's page, opens the
problem given, selects the chosen path's last node and saves the tree panel as a PNG.

Usage: python benchmarks/explorer_shot.py [--run runs/readme-beam] [--problem gsm8k-test-0] [--out docs/explorer-beam.png]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import Browser

BENCH = ["reason", "bench", "run", "gsm8k", "-s", "beam", "-p", "n=4", "-p", "width=2", "-p", "step_tokens=64",
         "-p", "max_steps=5", "-p", "seed=0", "--limit", "4", "-c", "4", "--quiet"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/readme-beam"))
    parser.add_argument("--problem", default="gsm8k-test-0")
    parser.add_argument("--out", type=Path, default=Path("docs/explorer-beam.png"))
    args = parser.parse_args()
    subprocess.run([*BENCH, "--out", str(args.run)], check=True)
    page = Path(subprocess.run(["reason", "show", str(args.run)], check=True, capture_output=True, text=True).stdout.strip())
    with Browser(width=2200, height=1000) as browser:
        browser.open(page)
        browser.evaluate(f"document.querySelector('[data-problem={json.dumps(args.problem)}]').click()")
        browser.evaluate("(() => { const c = [...document.querySelectorAll('.node.chosen')]; c[c.length - 1].click();"
                         " })()")
        browser.settle(0.3)
        errors = browser.errors()
        if errors:
            raise SystemExit(f"the page reported errors: {errors}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        browser.screenshot(args.out, selector=".treebox")
    print(args.out)


if __name__ == "__main__":
    main()
