"""Tree-search efficiency on the bundled model, in one run: prefix reuse and batching.

For PRM-guided beam search and MCTS (PRM-valued, and with rollouts kept in the tree; the
LLM-judge PRM on the same model):
1. backend-processed tokens / tokens in the final tree, for the policy model. Processed =
   prompt tokens the engine did NOT take from its prefix cache + generated tokens, read from
   vLLM's own counters (`vllm:prompt_tokens`, `vllm:prompt_tokens_cached`,
   `vllm:generation_tokens`). Tree tokens = the prompt once + every generated step.
   Target: <= 1.2. The prefix cache is emptied before each search, so every run starts cold.
   Also shown, the floor any vLLM client has: vLLM reuses a cached prefix in whole KV blocks
   only, so every sample recomputes the part of its prompt past the last block boundary
   (prompt length mod block size, or a whole block when that is 0). floor = (root prompt + those tails + generated) / tree;
   processed - floor is what the search itself wastes. "@16" is the same floor computed for
   16-token blocks (vLLM's GPU default) from this run's prompt lengths — a projection, not a
   measurement (the CPU build takes blocks of 32 and up only).
2. wall time of the same search when the backend is driven by a naive loop that makes
   one call per node (one prompt, one sample), as peers' tree searches do.
3. (--throughput N) generated tokens per second in a `reason bench` run: N GSM8K test problems,
   8 in flight, no generation cache, self-consistency@8 against beam search (n=4, width=2),
   particle filtering (4 particles) and MCTS (16 iterations: sequential UCT, and 4 leaves a round with
   virtual loss, `parallel=4`), each tree search with a 1,600-token budget and the
   arithmetic-checking verifier PRM (no PRM tokens, so the ratio is the policy's alone). Prints each
   tree search's tokens/s as a fraction of self-consistency's; target: within 2x. The prefix cache is
   emptied before each run. `--batching micro` hides the engine, so calls are merged as they arrive instead of
   joining the running batch (reason/backends/continuous.py). Leaves out: the LLM-judge PRM (its tokens would
   count against the tree).

Usage: python benchmarks/search_bench.py [--block-size 32] [--questions 2] [--repeats 1] [--json out.json]
       python benchmarks/search_bench.py --throughput 30 [--concurrency 8] [--batching continuous|micro]   (section 3)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

QUESTIONS = [
    "A robe takes 2 bolts of blue fiber and half that much white fiber.  How many bolts in total does it take?",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
]
COUNTERS = ("vllm:prompt_tokens", "vllm:prompt_tokens_cached", "vllm:generation_tokens")


class Counted:
    """A generator view that attributes the engine's token counters to the calls made through it."""

    def __init__(self, inner, llm, block: int, one_call_per_node: bool = False) -> None:
        self.inner, self.llm, self.naive = inner, llm, one_call_per_node
        self.name = inner.name
        self.prompt = self.cached = self.generated = self.calls = 0
        self.tails = {block: 0, 16: 0}
        self.root_length: int | None = None

    def __getattr__(self, item):
        return getattr(self.inner, item)

    def generate(self, prompts, params):
        before = self._counters()
        if self.naive:  # one backend call per node: every sample of every prompt on its own
            single = params.model_copy(update={"n": 1})
            outputs = [[self.inner.generate([p], single)[0][0] for _ in range(params.n)] for p in prompts]
            self.calls += len(prompts) * params.n
        else:
            outputs = self.inner.generate(prompts, params)
            self.calls += 1
        after = self._counters()
        for per_prompt in outputs:
            length = per_prompt[0].prompt_tokens
            if self.root_length is None:  # the first prompt is the root: its whole blocks are computed once
                self.root_length = length
            for size in self.tails:  # a whole-block prompt still recomputes its last block (a hit leaves >= 1 token)
                self.tails[size] += len(per_prompt) * (length % size or size)
        self.prompt += after[0] - before[0]
        self.cached += after[1] - before[1]
        self.generated += after[2] - before[2]
        return outputs

    def _counters(self) -> tuple[int, int, int]:
        values = {m.name: m.value for m in self.llm.get_metrics() if m.name in COUNTERS}
        return tuple(int(values.get(name, 0)) for name in COUNTERS)  # type: ignore[return-value]

    @property
    def processed(self) -> int:
        return self.prompt - self.cached + self.generated

    def floor(self, size: int) -> int:
        """The fewest tokens vLLM can process for these requests with `size`-token blocks."""
        root = self.root_length or 0
        return root - root % size + self.tails[size] + self.generated

    def close(self) -> None:
        pass


def searchers():
    from reason.budget import Budget
    from reason.searchers.beam import BeamSearch
    from reason.searchers.mcts import MCTS

    budget = Budget(tokens=1200)
    return {
        "beam": lambda: BeamSearch(n=4, width=2, budget=budget),
        "mcts": lambda: MCTS(iterations=6, children=3, budget=budget),
        "mcts-rollout": lambda: MCTS(iterations=6, children=2, evaluation="rollout", budget=budget),
    }


def run_once(name, make, generator, llm, block, problem, naive: bool) -> dict:
    from reason.prm.llm_judge import LLMJudgePRM

    # every run starts cold: an earlier run of the same question would have cached its root prompt
    if not llm.reset_prefix_cache():
        raise RuntimeError("vLLM could not reset its prefix cache (requests still running)")
    policy = Counted(generator, llm, block, one_call_per_node=naive)
    judge = Counted(generator, llm, block)
    searcher = make().model_copy(update={"prm": LLMJudgePRM(generator=judge)})
    started = time.perf_counter()
    result = searcher.search(problem, policy)
    wall = time.perf_counter() - started
    tree_tokens = sum(d["tokens"] for _, d in result.tree.nodes(data=True))
    return {
        "searcher": name,
        "mode": "naive" if naive else "batched",
        "wall_s": wall,
        "policy_calls": policy.calls,
        "tree_tokens": tree_tokens,
        "nodes": result.tree.number_of_nodes(),
        "processed": policy.processed,
        "prompt": policy.prompt,
        "cached": policy.cached,
        "generated": policy.generated,
        "floor": policy.floor(block),
        "floor16": policy.floor(16),
        "ratio": policy.processed / tree_tokens,
        "prm_processed": judge.processed,
        "tokens_per_s": tree_tokens / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument(
        "--block-size", type=int, default=None, help="KV block size (prefix-cache granularity); engine default if unset"
    )
    parser.add_argument("--questions", type=int, default=2, help=f"how many of the {len(QUESTIONS)} GSM8K questions")
    parser.add_argument("--repeats", type=int, default=1, help="runs per question and mode")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--throughput", type=int, default=0, metavar="N",
                        help="run section 3 only, on the first N GSM8K test problems")
    parser.add_argument("--concurrency", type=int, default=8, help="problems in flight in section 3")
    parser.add_argument("--batching", choices=("continuous", "micro"), default="continuous",
                        help="section 3: vLLM's engine fed request by request (the default), or merged calls")
    args = parser.parse_args()
    if args.throughput:
        throughput(args.model, args.throughput, args.concurrency, args.json, args.batching)
        return

    from reason.backends.vllm_backend import VLLMGenerator
    from reason.types import Problem, SamplingParams

    extra = {"disable_log_stats": False, **({"block_size": args.block_size} if args.block_size else {})}
    generator = VLLMGenerator(model=args.model, extra_engine_args=extra)
    llm = generator._llm  # the engine's own counters are the ground truth for processed tokens
    block = llm.llm_engine.vllm_config.cache_config.block_size
    generator.generate(["warm up"], SamplingParams(max_tokens=4, temperature=0))
    rows = []
    for name, make in searchers().items():
        for naive in (False, True):
            for question in QUESTIONS[: args.questions]:
                for _ in range(args.repeats):
                    rows.append(run_once(name, make, generator, llm, block, Problem(question=question), naive))
                    print("  done:", {k: rows[-1][k] for k in ("searcher", "mode", "ratio", "wall_s")}, flush=True)
    generator.close()
    report(rows, block)
    if args.json:
        args.json.write_text(json.dumps({"block_size": block, "rows": rows}, indent=2))


def speed(rows: list[dict]) -> float:
    """Tree tokens per second of wall time (the trees of two runs differ; their rates compare)."""
    return sum(r["tree_tokens"] for r in rows) / sum(r["wall_s"] for r in rows)


def report(rows: list[dict], block: int) -> None:
    print(f"KV block size {block} (prefix cache hits count in whole blocks)")
    head = ("searcher", "mode", "nodes", "tree tok", "processed", "ratio", "floor", "@16", "calls", "wall s", "tree tok/s")
    print("{:12} {:8} {:>5} {:>8} {:>9} {:>6} {:>6} {:>6} {:>5} {:>7} {:>10}".format(*head))
    for r in rows:
        tree = r["tree_tokens"]
        print(
            f"{r['searcher']:12} {r['mode']:8} {r['nodes']:5d} {tree:8d} {r['processed']:9d} "
            f"{r['ratio']:6.2f} {r['floor'] / tree:6.2f} {r['floor16'] / tree:6.2f} {r['policy_calls']:5d} "
            f"{r['wall_s']:7.1f} {r['tokens_per_s']:10.1f}"
        )
    for name in dict.fromkeys(r["searcher"] for r in rows):
        batched = [r for r in rows if r["searcher"] == name and r["mode"] == "batched"]
        naive = [r for r in rows if r["searcher"] == name and r["mode"] == "naive"]
        tree = sum(r["tree_tokens"] for r in batched)
        total = {key: sum(r[key] for r in batched) for key in ("processed", "floor", "floor16")}
        print(
            f"{name}: processed/tree = {total['processed'] / tree:.2f} (target <= 1.2; "
            f"vLLM's whole-block floor {total['floor'] / tree:.2f} at block {block}, "
            f"{total['floor16'] / tree:.2f} projected at block 16; "
            f"wasted beyond the floor: {total['processed'] - total['floor']} tokens); "
            f"tree tokens/s batched {speed(batched):.1f} vs one-call-per-node {speed(naive):.1f} "
            f"({speed(batched) / speed(naive):.2f}x)"
        )


ARITHMETIC_PRM = {"name": "verifier", "params": {"check": "step",
                                                 "verifier": {"name": "code", "params": {"checks": ["arithmetic"]}}}}
"""Each step's `a op b = c` claims recomputed: a PRM that costs no model tokens."""
TREE_BUDGET = {"prm": ARITHMETIC_PRM, "budget": {"tokens": 1600}}
THROUGHPUT_RUNS = {  # label: (strategy, params)
    "self-consistency": ("self-consistency", {"n": 8}),
    "beam": ("beam", {"n": 4, "width": 2, **TREE_BUDGET}),
    "particle-filter": ("particle-filter", {"n": 4, **TREE_BUDGET}),
    "mcts": ("mcts", {"iterations": 16, **TREE_BUDGET}),
    "mcts parallel=4": ("mcts", {"iterations": 16, "parallel": 4, **TREE_BUDGET}),
}


class MergedCallsOnly:
    """The backend without its engine showing: `reason bench` then merges calls (the micro-batcher)."""

    def __init__(self, inner) -> None:
        self.inner, self.name = inner, inner.name

    def generate(self, prompts, params):
        return self.inner.generate(prompts, params)

    def close(self) -> None:
        self.inner.close()


def throughput(model: str | None, problems: int, concurrency: int, out: Path | None, batching: str) -> None:
    """Section 3: one engine, one bench run per strategy, generated tokens/s compared with self-consistency's."""
    import tempfile

    from reason.backends.vllm_backend import VLLMGenerator
    from reason.bench.runner import RunConfig, run_benchmark

    engine = VLLMGenerator(model=model)
    generator = engine if batching == "continuous" else MergedCallsOnly(engine)
    rows = []
    with tempfile.TemporaryDirectory(prefix="search-bench-") as folder:
        for label, (strategy, params) in THROUGHPUT_RUNS.items():
            if not engine._llm.reset_prefix_cache():
                raise RuntimeError("vLLM could not reset its prefix cache (requests still running)")
            config = RunConfig(dataset="gsm8k", strategy=strategy, params=params, limit=problems,
                               concurrency=concurrency, cache=None)
            summary = run_benchmark(config, Path(folder, label.replace(" ", "-")), generator).summary
            rows.append({"strategy": label, "params": params, "problems": summary.problems,
                         "accuracy": summary.accuracy, "tokens_per_s": summary.generated_tokens_per_s or 0.0,
                         "mean_generated_tokens": summary.mean_generated_tokens,
                         "mean_model_calls": summary.mean_model_calls, "wall_s": summary.elapsed_s})
            print("  done:", rows[-1], flush=True)
    generator.close()
    base = rows[0]["tokens_per_s"]
    print(f"{problems} GSM8K test problems, {concurrency} in flight, no generation cache, {batching} batching")
    print("{:18} {:>9} {:>10} {:>8} {:>9} {:>7} {:>10}".format(
        "strategy", "tokens/s", "SC/this", "tok/prob", "calls/pb", "wall s", "correct"))
    for r in rows:
        ratio = base / r["tokens_per_s"] if r["tokens_per_s"] else float("inf")
        verdict = "" if r is rows[0] else ("  within 2x" if ratio <= 2 else "  SLOWER than 2x")
        print(f"{r['strategy']:18} {r['tokens_per_s']:9.1f} {ratio:10.2f} {r['mean_generated_tokens']:8.0f} "
              f"{r['mean_model_calls']:9.1f} {r['wall_s']:7.0f} {r['accuracy'] * r['problems']:10.0f}{verdict}")
    if out:
        out.write_text(json.dumps({"problems": problems, "concurrency": concurrency, "batching": batching, "rows": rows},
                                  indent=2))


if __name__ == "__main__":
    main()
