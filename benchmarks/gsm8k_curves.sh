#!/usr/bin/env bash
# The README's budget-matched GSM8K curves: the bundled SmolLM2-135M on the first $LIMIT GSM8K **test** problems,
# greedy CoT, self-consistency, best-of-N with the shipped trained verifier (prm=trained) and with the LLM judge,
# and PRM-guided beam search with the trained verifier. Every run is resumable (the same command continues).
# Finished runs are kept, slimmed, in benchmarks/kept/ (benchmarks/keep_runs.py), and the tables are drawn from
# there: runs/ is scratch, gone with the machine.
# The best-of-N runs rescore the self-consistency run's own samples through its generation cache (same prompt,
# temperature, seed, n and max tokens), so best@k, weighted@k and maj@k are measured on the very same samples.
# On 2 CPU cores the 500-problem runs took 23 (SC), 10 (CoT), 23 (best-of-N, trained), 10 (best-of-N, LLM judge)
# and 32 / 44 (beam n=2 / n=4, trained) minutes. Results: benchmarks/results-gsm8k_curves.md, docs/gsm8k-curves.png.
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${LIMIT:-500}
export OMP_WAIT_POLICY=PASSIVE
SAMPLE=(--n 8 --max-tokens 256 -c 8 -p temperature=0.7 -p seed=0)
CACHE=runs/gsm8k-test-sc8/generations.sqlite

# The kept self-consistency samples come back first, so every run below rescores the published samples (a fresh
# concurrent run would draw others: vLLM's CPU sampling is not batch-invariant). SC itself then replays from them.
if [[ ! -f runs/gsm8k-test-sc8/generations.sqlite && -f benchmarks/kept/gsm8k-test-sc8/generations.jsonl.gz ]]; then
  python benchmarks/keep_runs.py --restore benchmarks/kept/gsm8k-test-sc8 --into runs
fi
reason bench gsm8k -s self-consistency "${SAMPLE[@]}" --limit "$LIMIT" --out runs/gsm8k-test-sc8 --quiet
reason bench gsm8k -s cot --max-tokens 256 --limit "$LIMIT" -c 8 --out runs/gsm8k-test-cot --quiet
reason bench gsm8k -s best-of-n "${SAMPLE[@]}" --limit "$LIMIT" -p prm=trained --cache "$CACHE" --out runs/gsm8k-test-bon8-trained --quiet
reason bench gsm8k -s best-of-n "${SAMPLE[@]}" --limit "$LIMIT" -p prm=llm-judge --cache "$CACHE" --out runs/gsm8k-test-bon8-judge --quiet
reason bench gsm8k -s beam --n 4 -p width=2 -p prm=trained --limit "$LIMIT" -c 8 -p temperature=0.7 -p seed=0 \
    --out runs/gsm8k-test-beam4-trained --quiet
reason bench gsm8k -s beam --n 2 -p width=2 -p prm=trained --limit "$LIMIT" -c 8 -p temperature=0.7 -p seed=0 \
    --out runs/gsm8k-test-beam2-trained --quiet
python benchmarks/keep_runs.py runs/gsm8k-test-sc8 --samples --into benchmarks/kept
python benchmarks/keep_runs.py runs/gsm8k-test-cot runs/gsm8k-test-bon8-trained \
    runs/gsm8k-test-bon8-judge runs/gsm8k-test-beam2-trained runs/gsm8k-test-beam4-trained --into benchmarks/kept
K=benchmarks/kept
{
  echo "## The first $LIMIT problems"
  python benchmarks/budget_curves.py $K/gsm8k-test-sc8 $K/gsm8k-test-cot $K/gsm8k-test-bon8-trained \
      $K/gsm8k-test-bon8-judge $K/gsm8k-test-beam2-trained $K/gsm8k-test-beam4-trained --png docs/gsm8k-curves.png
} | tee benchmarks/results-gsm8k_curves.md
