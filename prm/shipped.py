"""PRM "trained": a verifier shipped inside this package, a value head trained by `reason prm train` over a policy.

A shipped verifier is only its head and card (`prm/heads/<name>/value_head.safetensors`, `prm_card.json`),
a few kilobytes: the policy's weights are not copied. At first use, a folder under the cache
(`$REASON_CACHE_DIR/verifiers/<name>-<policy>-<head digest>`, built privately and renamed into place)
links the policy's files beside the head, and `prm=hf` scores with it (the value-head shape). `default` is trained over the bundled SmolLM2-135M on GSM8K train only; its card
holds the data, the command that rebuilds it (scripts/build_verifier.sh) and its held-out figures.
Leaves out: heads over other policies (train one: `reason prm train`, then `prm=hf` with its folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, PrivateAttr

from reason.errors import ConfigError
from reason.models import cache_dir, resolve_model
from reason.prm.hf import HFPRM
from reason.types import Problem, Validated

HEADS = "heads"
LINKED = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
          "special_tokens_map.json", "model.safetensors", "model.safetensors.index.json")


def link_policy(policy: Path, target: Path) -> None:
    """`target` gets links to the policy folder's config, tokenizer and weights (a value head goes beside them)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        source, link = Path(policy) / name, target / name
        if source.exists():
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(source.resolve())


def shipped_names() -> list[str]:
    folder = resources.files("reason.prm") / HEADS
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def card(name: str) -> dict[str, Any]:
    """A shipped verifier's card: its data, policy, command and held-out figures."""
    path = resources.files("reason.prm") / HEADS / name / "prm_card.json"
    if not path.is_file():
        raise ConfigError(f"no shipped verifier {name!r}; shipped: {', '.join(shipped_names()) or 'none'}")
    return dict(json.loads(path.read_text("utf-8")))


class ShippedPRM(Validated):
    """Args: head (a shipped verifier's name, "default"), model (the policy folder; None: the bundled model),
    device, batch_size, prefix_cache_tokens (as for prm=hf).

    Example:
        >>> prm = ShippedPRM()                                              # doctest: +SKIP
        >>> prm.score(Problem(question="2+2?"), [["2 + 2 = 4", "The answer is 4."]])  # doctest: +SKIP
    """

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "trained"

    head: str = "default"
    model: str | None = None
    device: str = "cpu"
    batch_size: int = 8
    prefix_cache_tokens: int = 8192
    _inner: HFPRM | None = PrivateAttr(default=None)

    def score(self, problem: Problem, steps_batch: Any) -> list[list[float]]:
        if self._inner is None:
            self._inner = HFPRM(model=str(self._folder()), shape="value-head", device=self.device,
                                batch_size=self.batch_size, prefix_cache_tokens=self.prefix_cache_tokens)
        return self._inner.score(problem, steps_batch)

    @property
    def tokens_processed(self) -> int:
        """Tokens the head's policy forward has read (reported as PRM compute, as for prm=hf)."""
        return self._inner.tokens_processed if self._inner is not None else 0

    @property
    def tokens_reused(self) -> int:
        return self._inner.tokens_reused if self._inner is not None else 0

    @property
    def truncated(self) -> int:
        return self._inner.truncated if self._inner is not None else 0

    def _folder(self) -> Path:
        """The policy's files linked beside the head, built once per (head, policy, head weights).

        Searches build their PRM concurrently (a bench run's problems in flight, Ray workers), so the
        folder is made under a private name and renamed into place; whoever loses the rename uses the
        winner's. The name carries the head's digest, so an upgraded package never reads an old head.
        """
        card(self.head)  # a clear error for an unknown name
        policy = Path(self.model or resolve_model(None).path)
        packaged = resources.files("reason.prm") / HEADS / self.head
        digest = hashlib.sha256((packaged / "value_head.safetensors").read_bytes()).hexdigest()[:12]
        target = cache_dir() / "verifiers" / f"{self.head}-{policy.name}-{digest}"
        if (target / "prm_card.json").is_file():
            return target
        building = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        shutil.rmtree(building, ignore_errors=True)
        link_policy(policy, building)
        for name in ("value_head.safetensors", "prm_card.json"):  # the card last: it marks the folder whole
            with resources.as_file(packaged / name) as source:
                shutil.copyfile(source, building / name)
        try:
            building.rename(target)
        except OSError:  # another search renamed its copy first
            shutil.rmtree(building, ignore_errors=True)
            if not (target / "prm_card.json").is_file():
                raise
        return target
