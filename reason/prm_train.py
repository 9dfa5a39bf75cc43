"""`reason prm train`: a verifier trained on the policy's own labelled samples (`reason prm data`).

On CPU: a linear value head over the frozen policy's last hidden state at each step's end, the way
Skywork's value-head PRMs are read, so the result loads through `prm=hf` (shape "value-head"):
1. each row is encoded as that shape encodes a solution (`bos + question + "\\n"`, each step then `"\\n"`),
   and the policy (transformers, from the same folder vLLM serves) gives its hidden state at each step end;
2. targets: with step labels, each step's label (the share of rollouts that ended right); without, the
   outcome at the last step only;
3. a logistic regression on standardised features (full-batch Adam, weight decay), the standardisation then
   folded into the head's weight and bias, so the shape's `sigmoid(w . h + b)` is the trained model;
4. problems, not rows, are split into train and held-out; the card records held-out AUC (the last step's
   score against the outcome) and calibration (expected calibration error, 10 bins).
The output folder holds links to the policy's config, tokenizer and weights, `value_head.safetensors`
(`v_head.summary.weight`, `v_head.summary.bias`), and `prm_card.json` with the data, the policy, the command
and the figures. On a GPU (`device="cuda"` or `"auto"`) the policy's forward passes run there and the head is
the same. Leaves out: fine-tuning the policy itself (LoRA or full).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from reason.errors import ConfigError
from reason.prm.hf_shapes import ValueHead
from reason.prm.shipped import link_policy
from reason.prm_data import DataRow, read_rows
from reason.types import Frozen

logger = logging.getLogger(__name__)

CARD_FILE = "prm_card.json"
HEAD_FILE = "value_head.safetensors"


class TrainConfig(Frozen):
    labels: str = Field(default="auto", pattern="^(auto|steps|outcome)$")
    """steps: every step's label (rows without step labels are left out); outcome: the last step only;
    auto: steps where a row has them, else its outcome."""
    holdout: float = Field(default=0.2, ge=0.0, lt=1.0)
    """Share of problems held out to measure AUC and calibration."""
    epochs: int = Field(default=300, ge=1)
    learning_rate: float = Field(default=0.05, gt=0)
    weight_decay: float = Field(default=1e-3, ge=0)
    seed: int = 0
    max_tokens: int = Field(default=1024, ge=16)
    """Rows longer than this (in the policy's tokens) are cut to their first steps that fit."""
    device: str = Field(default="cpu", pattern=r"^(cpu|auto|cuda(:\d+)?)$")
    """Where the frozen policy reads the rows (the bulk of the time): cpu, cuda, cuda:N, or auto (cuda when
    torch sees one). The head itself is fitted on the CPU either way."""


def train_prm(data: Path, policy: Path, out: Path, config: TrainConfig, command: str = "") -> dict[str, Any]:
    """Train the head, write the folder; returns the card."""
    rows = read_rows(data)
    if not rows:
        raise ConfigError(f"{data} holds no rows (reason prm data writes them)")
    train_ids, held_ids = _split({r.problem_id for r in rows}, config.holdout, config.seed)
    model, tokenizer, shape = _policy(policy, config.device)
    features, targets, outcome_of = _examples(rows, model, tokenizer, shape, config)
    if not any(features[i] for i in train_ids):
        raise ConfigError("no training examples: with labels=steps, the data needs step labels (reason prm data --rollouts)")
    weight, bias = _fit([x for i in train_ids for x in features[i]], [y for i in train_ids for y in targets[i]], config)
    card = _card(rows, data, policy, config, command, train_ids, held_ids, features, outcome_of, weight, bias)
    _write(out, policy, weight, bias, card)
    return card


def _split(problems: set[str], holdout: float, seed: int) -> tuple[list[str], list[str]]:
    ordered = sorted(problems)
    random.Random(seed).shuffle(ordered)
    held = round(holdout * len(ordered))
    if holdout and len(ordered) > 1:
        held = max(1, held)
    return ordered[held:], ordered[:held]


def _policy(path: Path, device: str) -> tuple[Any, Any, ValueHead]:
    import torch
    import transformers

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: torch sees no CUDA device here (use cpu or auto)")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(path), torch_dtype=torch.float32).eval()
    return model.to(device), tokenizer, ValueHead.build(tokenizer, model.config, None)


def _examples(rows: Sequence[DataRow], model: Any, tokenizer: Any, shape: ValueHead,
              config: TrainConfig) -> tuple[dict[str, list[list[float]]], dict[str, list[float]], dict[str, list[tuple[int, bool]]]]:
    """Per problem: the hidden states at the labelled step ends, their targets, and (index, outcome) of each row's
    last step among them (for AUC)."""
    import torch

    features: dict[str, list[list[float]]] = {}
    targets: dict[str, list[float]] = {}
    last: dict[str, list[tuple[int, bool]]] = {}
    for row in rows:
        features.setdefault(row.problem_id, [])
        targets.setdefault(row.problem_id, [])
        last.setdefault(row.problem_id, [])
        labels = _targets(row, config.labels)
        if labels is None or not row.steps:
            continue
        encoded = shape.encode(tokenizer, row.question, list(row.steps))
        keep = [i for i, p in enumerate(encoded.positions) if p < config.max_tokens]
        if not keep:
            continue
        ids = encoded.ids[: encoded.positions[keep[-1]] + 1]
        with torch.no_grad():
            inputs = torch.tensor([ids], device=model.device)
            hidden = model(input_ids=inputs, output_hidden_states=True).hidden_states[-1][0].float().cpu()
        for i in keep:
            label = labels[i]
            if label is None:
                continue
            features[row.problem_id].append(hidden[encoded.positions[i]].tolist())
            targets[row.problem_id].append(float(label))
        if keep[-1] == len(row.steps) - 1 and labels[-1] is not None:
            last[row.problem_id].append((len(features[row.problem_id]) - 1, row.correct))
    return features, targets, last


def _targets(row: DataRow, mode: str) -> list[float | None] | None:
    if row.step_labels is not None and mode in ("auto", "steps"):
        return list(row.step_labels)
    if mode == "steps":
        return None
    return [None] * (len(row.steps) - 1) + [1.0 if row.correct else 0.0]


def _fit(xs: list[list[float]], ys: list[float], config: TrainConfig) -> tuple[list[float], float]:
    """Logistic regression on standardised features; returns (w, b) for the raw features."""
    import torch

    torch.manual_seed(config.seed)
    x, y = torch.tensor(xs), torch.tensor(ys)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    linear = torch.nn.Linear(z.shape[1], 1)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    optimizer = torch.optim.Adam(linear.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(config.epochs):
        optimizer.zero_grad()
        loss = loss_fn(linear(z).squeeze(-1), y)
        loss.backward()
        optimizer.step()
    w = (linear.weight[0] / std).detach()
    b = float(linear.bias[0].detach() - (w * mean).sum())
    return w.tolist(), b


def score(features: list[float], weight: Sequence[float], bias: float) -> float:
    logit = sum(f * w for f, w in zip(features, weight)) + bias
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """P(a right one scores above a wrong one), ties half; None without both kinds.

    Mann-Whitney through average ranks, so n log n: the same figure as comparing every pair.
    """
    right = sum(1 for y in labels if y)
    wrong = len(labels) - right
    if not right or not wrong:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum, start = 0.0, 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        average = (start + end) / 2 + 1
        rank_sum += average * sum(1 for i in order[start:end + 1] if labels[i])
        start = end + 1
    return (rank_sum - right * (right + 1) / 2) / (right * wrong)


def calibration_error(scores: Sequence[float], labels: Sequence[bool], bins: int = 10) -> float | None:
    """Expected calibration error: the gap between mean score and accuracy per score bin, weighted by bin size."""
    if not scores:
        return None
    total = 0.0
    for k in range(bins):
        members = [(s, y) for s, y in zip(scores, labels) if k / bins <= s < (k + 1) / bins or (k == bins - 1 and s == 1.0)]
        if members:
            total += len(members) * abs(sum(s for s, _ in members) / len(members) - sum(y for _, y in members) / len(members))
    return total / len(scores)


def _card(rows: Sequence[DataRow], data: Path, policy: Path, config: TrainConfig, command: str, train_ids: list[str],
          held_ids: list[str], features: dict[str, list[list[float]]], outcome_of: dict[str, list[tuple[int, bool]]],
          weight: list[float], bias: float) -> dict[str, Any]:
    def outcome_metrics(ids: list[str]) -> dict[str, Any]:
        scored = [(score(features[i][k], weight, bias), y) for i in ids for k, y in outcome_of[i]]
        scores, labels = [s for s, _ in scored], [y for _, y in scored]
        return {"problems": sorted(ids), "solutions": len(scored), "right": sum(labels), "auc": auc(scores, labels),
                "calibration_error": calibration_error(scores, labels)}

    return {
        "kind": "value-head PRM over a frozen policy (reason prm train)",
        "shape": "value-head",
        "policy": str(policy),
        "data": {"file": str(data), "sha256": hashlib.sha256(Path(data).read_bytes()).hexdigest(), "rows": len(rows),
                 "problems": len({r.problem_id for r in rows}), "with_step_labels": sum(r.step_labels is not None for r in rows),
                 "runs": sorted({r.run for r in rows})},
        "config": config.model_dump(),
        "examples": {"train": sum(len(features[i]) for i in train_ids), "held_out": sum(len(features[i]) for i in held_ids)},
        "train": outcome_metrics(train_ids),
        "held_out": outcome_metrics(held_ids),
        "command": command,
    }


def _write(out: Path, policy: Path, weight: list[float], bias: float, card: dict[str, Any]) -> None:
    import torch
    from safetensors.torch import save_file

    link_policy(policy, out)
    save_file({"v_head.summary.weight": torch.tensor([weight]), "v_head.summary.bias": torch.tensor([bias])},
              str(out / HEAD_FILE))
    (out / CARD_FILE).write_text(json.dumps(card, indent=2), encoding="utf-8")
