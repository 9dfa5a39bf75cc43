"""Serving throughput, measured in one run on the bundled model (or --model): the same N problems solved
(1) through `reason serve` by N concurrent `openai` clients, (2) in-process by `Engine.solve_many`, and
(3) one at a time, each with self-consistency n=--n. Reports wall time and generated tokens/s of each,
and the server's and solve_many's speed-up over one at a time (target: the server within 10% of
in-process; both well ahead of one at a time).

Usage: python benchmarks/serve_bench.py [--problems 8] [--n 4] [--max-tokens 64] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

QUESTIONS = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many in all?",
    "Weng earns $12 an hour for babysitting. Yesterday, she did 50 minutes of babysitting. How much did she earn?",
    "Betty needs $100 for a wallet. She has half of it, her parents give $15 and her grandparents twice that. How much more does she need?",
    "James writes a 3-page letter to 2 different friends twice a week. How many pages does he write a year?",
    "Mark has a garden with 10 yellow flowers and 80% more purple ones. How many yellow and purple flowers has he?",
    "Albert buys 2 large pizzas of 16 slices and 2 small ones of 8 slices. How many slices does he eat if he eats all?",
    "Ken put 2 pounds of jelly beans in a box, tripled the weight with brownies, added 2 pounds more. What is the weight?",
    "Alexis spent $200 on clothes and has $16 left of her budget. She spent $41 on shoes. How much was her budget?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--model", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import openai
    import uvicorn

    from reason.api import Engine
    from reason.serve import ServeConfig, create_app

    questions = (QUESTIONS * (args.problems // len(QUESTIONS) + 1))[: args.problems]
    params = {"n": args.n, "max_tokens": args.max_tokens, "temperature": 0.7}
    engine = Engine("vllm", **({"model": args.model} if args.model else {}))
    engine.solve("warm up: 1 + 1?", "cot", max_tokens=8)
    figures = {}

    started = time.perf_counter()
    sequential = [engine.solve(q, "self-consistency", **params) for q in questions]
    figures["one at a time"] = _figure(time.perf_counter() - started, sequential)

    started = time.perf_counter()
    batched = engine.solve_many(questions, "self-consistency", concurrency=len(questions), **params)
    figures["Engine.solve_many"] = _figure(time.perf_counter() - started, batched)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine, ServeConfig()), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=600)

    def ask(question: str) -> dict:
        reply = client.chat.completions.create(
            model="reason/self-consistency", messages=[{"role": "user", "content": question}],
            extra_body={"reason": {"params": params}})
        return reply.model_extra["reason"]

    started = time.perf_counter()
    with ThreadPoolExecutor(len(questions)) as pool:
        served = list(pool.map(ask, questions))
    wall = time.perf_counter() - started
    tokens = sum(r["compute"]["generated_tokens"] for r in served)
    figures["reason serve, concurrent clients"] = {"wall_s": round(wall, 2), "generated_tokens": tokens,
                                                   "tokens_per_s": round(tokens / wall, 1)}
    server.should_exit = True

    base = figures["one at a time"]["wall_s"]
    print(f"{len(questions)} problems, self-consistency n={args.n}, max_tokens={args.max_tokens}, bundled model on CPU")
    print(f"{'how':36} {'wall s':>8} {'tokens':>8} {'tok/s':>8} {'speed-up':>9}")
    for name, row in figures.items():
        row["speed_up_over_one_at_a_time"] = round(base / row["wall_s"], 2)
        print(f"{name:36} {row['wall_s']:8.2f} {row['generated_tokens']:8d} {row['tokens_per_s']:8.1f} "
              f"{row['speed_up_over_one_at_a_time']:8.2f}x")
    server_vs = figures["reason serve, concurrent clients"]["wall_s"] / figures["Engine.solve_many"]["wall_s"]
    print(f"server wall time / solve_many wall time: {server_vs:.2f} (target <= 1.10)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    engine.close()


def _figure(wall: float, results: list) -> dict:
    tokens = sum(r.compute.generated_tokens for r in results)
    return {"wall_s": round(wall, 2), "generated_tokens": tokens, "tokens_per_s": round(tokens / wall, 1)}


if __name__ == "__main__":
    main()
