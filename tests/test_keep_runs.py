"""benchmarks/keep_runs.py --samples / --restore: a run's generation cache leaves the machine and comes back whole,
so a verifier can rescore the very samples a published self-consistency run voted over."""

import subprocess
import sys
from pathlib import Path

from reason.backends.cache import CachingGenerator, GenerationCache
from reason.testing import FakeGenerator
from reason.types import SamplingParams

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "keep_runs.py"


def test_a_kept_generation_cache_serves_every_completion_again(tmp_path):
    run = tmp_path / "runs" / "sc"
    run.mkdir(parents=True)
    (run / "records.jsonl").write_text("")
    cache = GenerationCache(run / "generations.sqlite")
    live = CachingGenerator(FakeGenerator(["The answer is 4.", "It is 5.", "Maybe 6."], cycle=True), cache)
    params = SamplingParams(n=3, temperature=0.7, seed=0, max_tokens=32)
    first = live.generate(["2+2?", "3+2?"], params) + live.generate(["2+2?"], params)  # a repeat: occurrence 2
    cache.close()
    subprocess.run([sys.executable, str(SCRIPT), str(run), "--samples", "--into", str(tmp_path / "kept")], check=True,
                   capture_output=True)
    subprocess.run([sys.executable, str(SCRIPT), "--restore", str(tmp_path / "kept" / "sc"), "--into",
                    str(tmp_path / "back")], check=True, capture_output=True)
    restored = GenerationCache(tmp_path / "back" / "sc" / "generations.sqlite")
    replay = CachingGenerator(FakeGenerator(["never generated"]), restored)
    again = replay.generate(["2+2?", "3+2?"], params) + replay.generate(["2+2?"], params)
    assert again == first
    assert replay.counts()[1] == 0  # nothing generated: every completion came from the kept cache
