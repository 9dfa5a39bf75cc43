"""What a sandboxed run costs, per isolation layer, measured in one run on this machine.

Runs the same programs through each layer this machine supports (bwrap, the launcher's own
namespaces, and an unsandboxed `python -I` as the floor) and reports the median and p90 wall time
per run, and each layer's median over the floor's. Programs: an empty one (start-up alone), a
small computation, and a SymPy import (what the code verifier's programs often do).

Usage: python benchmarks/sandbox_bench.py [--runs 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from reason.verifiers.sandbox import Sandbox, SandboxLimits, _bwrap_probe

PROGRAMS = {
    "empty": "pass",
    "compute": "print(sum(i * i for i in range(200_000)))",
    "sympy": "import sympy\nprint(sympy.factor(sympy.Symbol('x')**2 - 1))",
}


def _unsandboxed(code: str) -> None:
    subprocess.run([sys.executable, "-I", "-c", code], check=True, capture_output=True)


def _timings(run, code: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run(code)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    layers = {"unsandboxed": _unsandboxed}
    for layer in ("bwrap", "namespaces"):
        if layer == "bwrap" and _bwrap_probe():
            print(f"bwrap skipped: {_bwrap_probe()}")
            continue
        sandbox = Sandbox(SandboxLimits(layer=layer, wall_s=60, cpu_s=30))
        result = sandbox.run("pass")
        assert result.status == "pass", result
        layers[f"{layer} ({result.isolation})"] = lambda code, s=sandbox: _check(s.run(code))
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for program, code in PROGRAMS.items():
        floor = None
        for name, run in layers.items():
            times = _timings(run, code, args.runs)
            median = statistics.median(times)
            floor = floor or median
            figures.setdefault(program, {})[name] = {
                "median_s": round(median, 4), "p90_s": round(statistics.quantiles(times, n=10)[-1], 4),
                "over_unsandboxed": round(median / floor, 2)}
    print(f"{'program':9} {'layer':44} {'median s':>9} {'p90 s':>8} {'x floor':>8}")
    for program, rows in figures.items():
        for name, row in rows.items():
            print(f"{program:9} {name:44} {row['median_s']:9.4f} {row['p90_s']:8.4f} {row['over_unsandboxed']:8.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def _check(result) -> None:
    if result.status != "pass":
        raise RuntimeError(f"sandboxed run failed: {result}")


if __name__ == "__main__":
    main()
