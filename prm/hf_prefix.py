"""Scoring partial solutions that extend ones already scored: a causal model's keys and values for a shared prefix are kept.

A stepwise search scores a beam's prefix at every step, and each child repeats its parent's tokens. In a causal
model, the output at a position depends only on the tokens before it, so a sequence that starts with one scored
before needs a forward over its new tokens only, on top of the kept keys and values. `PrefixCache` keeps, for the
sequences a PRM scored recently, their keys, values and per-token head outputs, least recently used first out
beyond a token budget; `forward_with_prefixes` groups the sequences of one call by the longest kept sequence
each one starts with (a beam's children share their parent) and runs one padded batch per group. Sequences
that start with nothing kept but share a start (best-of-N's samples share the question) have that start run
once and kept first.
Used for the value-head shape (one number per token to keep). Leaves out: the logit-reading shapes (a row of
vocabulary-wide logits per token is too large to keep), sliding-window attention, sharing across processes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_SHARED_START = 8
"""Tokens a shared start must have to be run once on its own."""


@dataclass(frozen=True)
class Kept:
    ids: tuple[int, ...]
    layers: tuple[tuple[Any, Any], ...]
    """Per layer, keys and values for these ids, batch of one."""
    outputs: Any
    """The head's output at every position, (len(ids), width)."""


class PrefixCache:
    """Recently scored sequences, at most `tokens` tokens in all, least recently used evicted first."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.reused = 0
        """Tokens not run through the model because a kept sequence already covered them."""
        self._kept: OrderedDict[tuple[int, ...], Kept] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def longest(self, ids: Sequence[int]) -> Kept | None:
        """The longest kept sequence that `ids` starts with (it is then the most recently used)."""
        key = tuple(ids)
        with self._lock:
            best = None
            for kept in self._kept.values():
                if len(kept.ids) <= len(key) and (best is None or len(kept.ids) > len(best.ids)) \
                        and key[: len(kept.ids)] == kept.ids:
                    best = kept
            if best is not None:
                self._kept.move_to_end(best.ids)
            return best

    def add(self, kept: Kept) -> None:
        if len(kept.ids) > self.tokens:
            return
        with self._lock:
            if kept.ids in self._kept:
                return
            self._kept[kept.ids] = kept
            self._held += len(kept.ids)
            while self._held > self.tokens:
                _, old = self._kept.popitem(last=False)
                self._held -= len(old.ids)


def forward_with_prefixes(loaded: Any, sequences: Sequence[Sequence[int]], cache: PrefixCache, device: str,
                          batch_size: int) -> tuple[list[Any], int]:
    """The head's outputs at every position of each sequence, and the tokens actually run through the model."""
    found = [cache.longest(ids) for ids in sequences]
    processed = _run_shared_start(loaded, [ids for ids, kept in zip(sequences, found) if kept is None], cache, device)
    groups: dict[tuple[int, ...], tuple[Kept | None, list[int]]] = {}
    for index, ids in enumerate(sequences):
        kept = cache.longest(ids) if processed else found[index]  # a start just run may be kept now
        groups.setdefault(kept.ids if kept else (), (kept, []))[1].append(index)
    outputs: list[Any] = [None] * len(sequences)
    for kept, members in groups.values():
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            processed += _extend(loaded, kept, [sequences[i] for i in chunk], cache, device, outputs, chunk)
    return outputs, processed


def _run_shared_start(loaded: Any, sequences: list[Sequence[int]], cache: PrefixCache, device: str) -> int:
    """Run and keep the start that sequences with nothing kept share, if it is worth a call; the tokens it ran."""
    if len(sequences) < 2:
        return 0
    start = _common_start(sequences)
    if len(start) < MIN_SHARED_START:
        return 0
    processed = _extend(loaded, None, [start], cache, device, [None], [0])
    cache.reused -= len(start)  # the members count it as kept; one of them would have run it anyway
    return processed


def _common_start(sequences: list[Sequence[int]]) -> list[int]:
    first, length = sequences[0], min(len(ids) for ids in sequences)
    for position in range(length):
        if any(ids[position] != first[position] for ids in sequences):
            return list(first[:position])
    return list(first[:length])


def _extend(loaded: Any, kept: Kept | None, sequences: list[Sequence[int]], cache: PrefixCache, device: str,
            outputs: list[Any], slots: list[int]) -> int:
    """One padded batch of sequences that all start with `kept` (or with nothing): forward their new tokens."""
    import torch
    from transformers import DynamicCache

    skip = len(kept.ids) if kept else 0
    new = [list(ids[skip:]) for ids in sequences]
    for slot, tail in zip(slots, new):
        if not tail and kept is not None:  # scored before, whole
            outputs[slot] = kept.outputs
    todo = [(slot, ids, tail) for slot, ids, tail in zip(slots, sequences, new) if tail]
    cache.reused += skip * len(sequences)
    if not todo:
        return 0
    width = max(len(tail) for _, _, tail in todo)
    pad = loaded.tokenizer.pad_token_id or 0
    input_ids = torch.tensor([tail + [pad] * (width - len(tail)) for _, _, tail in todo], device=device)
    mask = torch.tensor([[1] * (skip + len(tail)) + [0] * (width - len(tail)) for _, _, tail in todo], device=device)
    past = None
    if kept is not None:
        past = DynamicCache(ddp_cache_data=[(k.expand(len(todo), -1, -1, -1), v.expand(len(todo), -1, -1, -1))
                                            for k, v in kept.layers])
    with torch.no_grad():
        out = loaded.model(input_ids=input_ids, attention_mask=mask, past_key_values=past, use_cache=True,
                           output_hidden_states=True, **_only_last_logits(loaded.model))
        head = loaded.head(out.hidden_states[-1].float())
    layers = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
    for row, (slot, ids, tail) in enumerate(todo):
        fresh = head[row, : len(tail)]
        outputs[slot] = torch.cat([kept.outputs, fresh]) if kept is not None else fresh
        end = skip + len(tail)
        cache.add(Kept(tuple(ids), tuple((k[row : row + 1, :, :end].clone(), v[row : row + 1, :, :end].clone())
                                         for k, v in layers), outputs[slot]))
    return sum(len(tail) for _, _, tail in todo)


def _only_last_logits(model: Any) -> dict[str, int]:
    """Ask a causal LM for the last position's logits only, where its forward takes `logits_to_keep`: the value
    head reads the hidden states, and the vocabulary projection is a fifth of a small model's compute."""
    import inspect

    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
