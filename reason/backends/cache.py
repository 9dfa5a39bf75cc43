"""The generation cache: completions stored in SQLite by (model, prompt, sampling params, occurrence).

`CachingGenerator` wraps any generator. A request whose key is stored is answered from
the database; the rest go to the backend in one call and are stored. The key holds:

- the model name (`generator.name`);
- the prompt in its structured form (a raw string, or the chat messages plus the
  assistant prefix). The chat template belongs to the model, so this determines the
  rendered text, and keying on it lets `reason bench rescore` replay a run without
  loading a tokenizer or an engine;
- every sampling parameter, the per-request seed included;
- the occurrence: the k-th identical request within one problem. A searcher that asks
  twice for the same prompt and params wants fresh samples, not a replay of the first
  answer; counting occurrences per problem keeps a replay exact and is independent of
  how problems interleave under concurrency.

One `GenerationCache` (one SQLite connection, WAL mode, a lock) is shared by all worker
threads; each problem gets its own `CachingGenerator` with its own counters.
Leaves out: eviction and size limits (delete the file to start over).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from reason.errors import GeneratorError
from reason.generator import Generator
from reason.types import ChatPrompt, Completion, Prompt, SamplingParams

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    params TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    completions TEXT NOT NULL
)
"""


def prompt_form(prompt: Prompt) -> str:
    """The canonical text of a prompt for keys: a raw string as is, a chat prompt as sorted JSON.

    A chat's `continues` ids are left out: they only say how to tokenize the same text, and
    a replay (whose cached samples carry no prompt ids) must find the same keys.
    """
    if isinstance(prompt, ChatPrompt):
        form = prompt.model_dump(mode="json", exclude={"continues"})
        return json.dumps(form, sort_keys=True, ensure_ascii=False)
    return prompt


def key_params(params: SamplingParams) -> str:
    """The sampling parameters as the cache key holds them: thinking budgets only when set, so the keys of runs
    made before the budgets existed still match."""
    unset = {name for name in ("max_thinking_tokens", "min_thinking_tokens") if getattr(params, name) is None}
    return params.model_dump_json(exclude=unset)


def cache_key(model: str, prompt: str, params_json: str, occurrence: int) -> str:
    """The sha256 key of one request (`params_json` from `key_params`)."""
    blob = json.dumps([model, prompt, params_json, occurrence], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CacheStore(Protocol):
    """What `CachingGenerator` needs of a cache: `GenerationCache`, or a remote one (a Ray actor's)."""

    def get(self, key: str) -> list[Completion] | None: ...

    def put(self, key: str, model: str, prompt: str, params_json: str, occurrence: int,
            completions: list[Completion]) -> None: ...


class GenerationCache:
    """Completions by key in one SQLite file; safe to share between threads (and processes, via WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60.0)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.commit()

    def get(self, key: str) -> list[Completion] | None:
        """The stored completions for a key, or None."""
        with self._lock:
            row = self._db.execute("SELECT completions FROM completions WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return [Completion.model_validate(c) for c in json.loads(row[0])]

    def put(
        self, key: str, model: str, prompt: str, params_json: str, occurrence: int, completions: list[Completion]
    ) -> None:
        blob = json.dumps([c.model_dump(mode="json") for c in completions], ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO completions VALUES (?, ?, ?, ?, ?, ?)",
                (key, model, prompt, params_json, occurrence, blob),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachingGenerator:
    """A generator that answers from the cache what it can and generates the rest.

    Make one per problem (occurrence counts are per problem); `hits` and `generated`
    count completions served from the cache and produced by the backend, `generated_tokens`
    the tokens the backend produced (what throughput is measured on). With `cache=None` every
    request goes to the backend and is only counted.
    """

    def __init__(self, inner: Generator, cache: CacheStore | None) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.hits = 0
        self.generated = 0
        self.generated_tokens = 0
        self._seen: dict[tuple[str, str], int] = {}

    def __getattr__(self, item: str):  # capability flags pass through
        return getattr(self.inner, item)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        if self.cache is None:
            outputs = self.inner.generate(prompts, params)
            self._count(outputs)
            return outputs
        keys = [self._key(p, params) for p in prompts]
        results: list[list[Completion] | None] = [self.cache.get(k[0]) for k in keys]
        missing = [i for i, r in enumerate(results) if r is None]
        self.hits += sum(len(r) for r in results if r is not None)
        if missing:
            fresh = self.inner.generate([prompts[i] for i in missing], params)
            for i, completions in zip(missing, fresh, strict=True):
                key, form, params_json, occurrence = keys[i]
                self.cache.put(key, self.name, form, params_json, occurrence, completions)
                results[i] = completions
            self._count(fresh)
        return [r for r in results if r is not None]

    def _count(self, produced: Sequence[Sequence[Completion]]) -> None:
        self.generated += sum(len(row) for row in produced)
        self.generated_tokens += sum(c.generated_tokens for row in produced for c in row)

    def counts(self) -> tuple[int, int, int]:
        """(completions from the cache, completions generated, tokens generated)."""
        return self.hits, self.generated, self.generated_tokens

    def _key(self, prompt: Prompt, params: SamplingParams) -> tuple[str, str, str, int]:
        form = prompt_form(prompt)
        params_json = key_params(params)
        occurrence = self._seen.get((form, params_json), 0)
        self._seen[(form, params_json)] = occurrence + 1
        key = cache_key(self.name, form, params_json, occurrence)
        return key, form, params_json, occurrence

    def close(self) -> None:
        """The shared backend and cache outlive a problem; nothing to release here."""


class CacheOnlyGenerator:
    """A backend that has nothing to give: every cache miss becomes a `GeneratorError`.

    Put under a `CachingGenerator` to replay a run strictly from its cache.
    """

    supports_logprobs = True
    supports_prefix_cache = False
    supports_request_seed = True

    def __init__(self, name: str) -> None:
        self.name = name

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        raise GeneratorError(
            f"{len(prompts)} prompt(s) are not in the generation cache for model {self.name!r}; "
            "pass a backend to generate them"
        )

    def close(self) -> None:
        pass
