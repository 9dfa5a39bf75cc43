"""Backend overhead and batching, measured in one run on the bundled model (or --model).

1. Self-consistency n=8 through `reason` (searcher + backend + extraction + voting) against the
   same vLLM call made directly on the same engine, same prompt, same per-request seed — so both
   generate the same tokens and generated-tokens/s compare like for like. Target: overhead <= 3%.
2. n=8 samples in one call against 8 sequential calls of one sample each.

Usage: python benchmarks/backend_bench.py [--model PATH] [--max-tokens 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

QUESTIONS = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
]


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    from vllm import SamplingParams as VSamplingParams

    from reason.backends.vllm_backend import VLLMGenerator
    from reason.searchers.self_consistency import SelfConsistency
    from reason.tasks import task_style
    from reason.types import Problem, SamplingParams

    generator = VLLMGenerator(model=args.model)
    llm, style = generator._llm, task_style("gsm8k")
    ours_rates, direct_rates, one_call, sequential = [], [], [], []
    generator.generate(["warm up"], SamplingParams(max_tokens=8, temperature=0))
    for repeat in range(args.repeats):
        for i, question in enumerate(QUESTIONS):
            seed = 1000 * repeat + i
            problem = Problem(question=question)
            searcher = SelfConsistency(n=8, temperature=0.7, max_tokens=args.max_tokens, seed=seed)
            text = generator.render(style.prompt(problem))
            direct_params = VSamplingParams(n=8, temperature=0.7, max_tokens=args.max_tokens, seed=seed)
            # alternate the order so neither side always runs on a warmer cache
            runs = [("direct", lambda: llm.generate([text], direct_params, use_tqdm=False)), ("ours", lambda: searcher.search(problem, generator))]
            for name, fn in runs if repeat % 2 == 0 else runs[::-1]:
                value, seconds = timed(fn)
                if name == "ours":
                    ours_rates.append(value.compute.generated_tokens / seconds)
                else:
                    direct_rates.append(sum(len(o.token_ids) for o in value[0].outputs) / seconds)
            params_one = SamplingParams(n=8, temperature=0.7, max_tokens=args.max_tokens, seed=seed)
            out, seconds = timed(lambda: generator.generate([text], params_one))
            one_call.append(sum(c.generated_tokens for c in out[0]) / seconds)
            started, tokens = time.perf_counter(), 0
            for k in range(8):
                [[c]] = generator.generate([text], SamplingParams(n=1, temperature=0.7, max_tokens=args.max_tokens, seed=seed + k))
                tokens += c.generated_tokens
            sequential.append(tokens / (time.perf_counter() - started))
    generator.close()

    ours, direct = statistics.median(ours_rates), statistics.median(direct_rates)
    batched, looped = statistics.median(one_call), statistics.median(sequential)
    figures = {
        "model": generator.name,
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "direct_vllm_tokens_per_s": round(direct, 2),
        "reason_tokens_per_s": round(ours, 2),
        "reason_over_direct": round(ours / direct, 4),
        "overhead_percent": round(100 * (1 - ours / direct), 2),
        "n8_one_call_tokens_per_s": round(batched, 2),
        "n8_sequential_tokens_per_s": round(looped, 2),
        "one_call_over_sequential": round(batched / looped, 2),
    }
    print(f"self-consistency n=8, max_tokens={args.max_tokens}, {args.repeats} repeats x {len(QUESTIONS)} prompts (medians)")
    print(f"  direct vLLM      {direct:8.1f} generated tokens/s")
    print(f"  through reason   {ours:8.1f} generated tokens/s   ratio {ours / direct:.3f}  overhead {figures['overhead_percent']:+.1f}% (target <= 3%)")
    print(f"  n=8 in one call  {batched:8.1f} tokens/s")
    print(f"  8 sequential     {looped:8.1f} tokens/s   one call is {batched / looped:.2f}x faster")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
