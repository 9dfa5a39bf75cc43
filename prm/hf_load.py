"""Loading a PRM folder: which shape it is, its body through transformers, its reward head from its own weights.

`resolve_shape` picks the shape from what the folder ships: an explicit `shape=` always wins, then a
`prm_shape` attribute in config.json, then `architectures` (`*ForProcessRewardModel` ->
token-classification, `*ForTokenClassification` -> token-classification, `*ForPrmModel` or
`v_head.*` weights -> value-head, `*ForCausalLM` -> causal-tag when the config names a `step_tag`, else
chat-turn when the tokenizer has a chat template, else causal-tag).

`load` builds the model without remote code wherever the head is a known one: Qwen2.5-Math-PRM is
the built-in body (`AutoModel`) plus `score = Linear(h,h), ReLU, Linear(h,2)` from the checkpoint's
`score.0.*`/`score.2.*`; Skywork is the built-in causal LM plus `Linear(h,1)` from `v_head.summary.*`.
It refuses (ConfigError) instead of returning numbers from a wrong load: checkpoint weights nobody
used, model weights the checkpoint lacks (a randomly initialised head), an output too narrow for
what the shape reads.
Leaves out: downloading (a local folder or the HF cache), quantised loading, several devices.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reason.errors import ConfigError, ModelNotFoundError

HEAD_PREFIXES = {"token-classification": "score.", "value-head": "v_head."}
HARMLESS_UNUSED = ("rotary_emb.inv_freq",)


@dataclass(frozen=True)
class Loaded:
    model: Any
    head: Any
    """A torch module applied to the body's last hidden state, or None when the model's output is read directly."""
    tokenizer: Any
    config: Any
    shape: str
    max_length: int | None
    readers: dict = field(default_factory=dict, compare=False)
    """Shape readers built for this model, by marker settings (see `HFPRM._reader_for`)."""


def resolve_shape(config: Any, tokenizer: Any, shape: str, head_keys: set[str]) -> str:
    if shape != "auto":
        return shape
    if declared := getattr(config, "prm_shape", None):
        return str(declared)
    archs = [str(a) for a in getattr(config, "architectures", None) or []]
    if any(a.endswith(("ForProcessRewardModel", "ForTokenClassification")) for a in archs):
        return "token-classification"
    if any(a.endswith("ForPrmModel") for a in archs) or any(k.startswith("v_head.") for k in head_keys):
        return "value-head"
    if any(a.endswith("ForCausalLM") for a in archs):
        chat = getattr(tokenizer, "chat_template", None) and not getattr(config, "step_tag", None)
        return "chat-turn" if chat else "causal-tag"
    raise ConfigError(f"cannot tell the PRM shape from architectures {archs}; pass shape= one of "
                      "causal-tag, chat-turn, token-classification, value-head")


def load(path: str, shape: str, device: str, dtype: str, trust_remote_code: bool) -> Loaded:
    """Load once per (path, shape, device, dtype); "auto" is resolved from the folder.

    One load at a time: searches in flight that all score their first step together would otherwise each
    load the same model (lru_cache alone does not make the callers wait for the first).
    """
    with _LOADING:
        return _load(path, shape, device, dtype, trust_remote_code)


_LOADING = threading.Lock()


@functools.lru_cache(maxsize=2)
def _load(path: str, shape: str, device: str, dtype: str, trust_remote_code: bool) -> Loaded:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ConfigError(f"the hf PRM needs transformers and torch ({exc})") from exc
    try:
        config = transformers.AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"no Hugging Face PRM at {path!r}: {exc}") from exc
    head_keys = set(_checkpoint_keys(Path(path)))
    shape = resolve_shape(config, tokenizer, shape, {k for k in head_keys if k.startswith(("score.", "v_head."))})
    options = {"trust_remote_code": trust_remote_code, "output_loading_info": True,
               "dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
    auto_class = _auto_class(config, shape)
    model, info = getattr(transformers, auto_class).from_pretrained(path, **options)
    head, used = _head(Path(path), shape, auto_class, model, torch)
    _refuse_a_wrong_load(info, used, config)
    model = model.to(device).eval()
    if head is not None:
        head = head.to(device=device, dtype=torch.float32).eval()  # as Skywork's own head: read in float32
    return Loaded(model, head, tokenizer, config, shape, getattr(config, "max_position_embeddings", None))


def _auto_class(config: Any, shape: str) -> str:
    if shape in ("causal-tag", "chat-turn", "value-head"):
        return "AutoModelForCausalLM"
    archs = [str(a) for a in getattr(config, "architectures", None) or []]
    if any(a.endswith("ForProcessRewardModel") for a in archs):
        return "AutoModel"  # the built-in body; its head is loaded by `_head` (remote code is never needed)
    return "AutoModelForTokenClassification"


def _head(path: Path, shape: str, auto_class: str, model: Any, torch: Any) -> tuple[Any, set[str]]:
    """The reward head the built-in class lacks, loaded from the checkpoint's own weights; and the keys it used."""
    builtin = not hasattr(model, "score") and not hasattr(model, "v_head")  # remote code brings its own head
    needs_head = builtin and ((shape == "token-classification" and auto_class == "AutoModel") or shape == "value-head")
    if not needs_head:
        return None, set()
    prefix = HEAD_PREFIXES[shape]
    weights = _checkpoint_tensors(path, prefix)
    hidden = model.config.hidden_size
    if shape == "value-head":
        head = torch.nn.Sequential()
        head.add_module("summary", torch.nn.Linear(hidden, 1))
    else:
        head = torch.nn.Sequential(torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))
    state = {k[len(prefix):]: v for k, v in weights.items()}
    expected = set(head.state_dict())
    if set(state) != expected:
        raise ConfigError(f"the {shape} PRM's head weights in the checkpoint are {sorted(weights) or 'missing'}; "
                          f"expected {sorted(prefix + k for k in expected)}")
    head.load_state_dict({k: v.float() for k, v in state.items()})
    return head, set(weights)


def _refuse_a_wrong_load(info: dict, used: set[str], config: Any) -> None:
    unused = [k for k in info.get("unexpected_keys", []) if k not in used and not k.endswith(HARMLESS_UNUSED)]
    tied = getattr(config, "tie_word_embeddings", False)
    missing = [k for k in info.get("missing_keys", []) if not (tied and k.startswith("lm_head."))]
    if unused:
        raise ConfigError(f"checkpoint weights the PRM would not use: {sorted(unused)[:6]} (a head this shape does "
                          "not read: pass the right shape=, or trust_remote_code=True for a custom class)")
    if missing:
        raise ConfigError(f"weights the checkpoint lacks, which would be random: {sorted(missing)[:6]}")


def check_width(output: Any, shape: Any) -> None:
    """The model's output must be wide enough for the ids or classes the shape reads."""
    width = output.shape[-1]
    if shape.head == "value" and width != 1:
        raise ConfigError(f"the value head gives {width} outputs per token; the value-head shape reads 1")
    if shape.head == "classes" and width < 2:
        raise ConfigError(f"the token head gives {width} classes; the token-classification shape needs 2 or more")
    if shape.widest_id() >= width:
        raise ConfigError(f"the model gives {width} outputs per token; the shape reads index {shape.widest_id()}")


def _checkpoint_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin"))


def _checkpoint_keys(path: Path) -> list[str]:
    index = next(iter(sorted(path.glob("*.index.json"))), None)
    if index is not None:
        return list(json.loads(index.read_text()).get("weight_map", {}))
    keys: list[str] = []
    for file in _checkpoint_files(path):
        if file.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(file), framework="pt") as handle:
                keys += list(handle.keys())
    return keys


def _checkpoint_tensors(path: Path, prefix: str) -> dict[str, Any]:
    import torch

    found: dict[str, Any] = {}
    for file in _checkpoint_files(path):
        if file.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(file), framework="pt") as handle:
                found |= {k: handle.get_tensor(k) for k in handle.keys() if k.startswith(prefix)}  # noqa: SIM118
        else:
            state = torch.load(file, map_location="cpu", weights_only=True)
            found |= {k: v for k, v in state.items() if k.startswith(prefix)}
    return found
