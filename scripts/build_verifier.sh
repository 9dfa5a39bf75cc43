#!/usr/bin/env bash
# Rebuild the shipped verifier (prm=trained, head "default"): a value head over the bundled SmolLM2-135M,
# trained on its own samples of GSM8K **train** (never test), outcome labels. About an hour on 2 CPU cores. The shipped
# head came from this run stopped (Ctrl-C) after 123 problems had finished; resume it with the same command.
#   1. 8 samples per problem on the first $LIMIT train problems (reason bench; resumable, cached);
#   2. one labelled row per sample (reason prm data);
#   3. the head (reason prm train), then only its weights and card are kept in prm/heads/default.
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${LIMIT:-250}
TRAIN=${TRAIN:-../shared/data/gsm8k/train.jsonl}
export OMP_WAIT_POLICY=PASSIVE
reason bench "$TRAIN" -s self-consistency --n 8 --max-tokens 256 --limit "$LIMIT" -c 8 -p temperature=0.7 -p seed=0 \
    --out runs/gsm8k-train-sc8 --quiet
reason prm data runs/gsm8k-train-sc8 --out runs/gsm8k-train-sc8.prm.jsonl
reason prm train runs/gsm8k-train-sc8.prm.jsonl --out runs/verifier-default --labels outcome --holdout 0.2 --seed 0
mkdir -p prm/heads/default
cp runs/verifier-default/value_head.safetensors runs/verifier-default/prm_card.json prm/heads/default/
