"""One registry for every pluggable component: generators, searchers, verifiers, PRMs, equivalences.

Components are found through Python entry points (groups `reason.generators`,
`reason.searchers`, `reason.verifiers`, `reason.prms`, `reason.equivalences`: functions
`(answer, answer) -> bool` that task styles name); `reason` registers its
built-ins the same way a third-party package does. Targets are "module:attribute"
strings imported on first use, so listing components never imports vLLM or torch.

Set `REASON_PLUGINS` to a comma-separated list of distribution names to load only
those plugins (the `reason` distribution itself is always loaded).
Leaves out: versioning and conflict resolution — a later registration of a name wins,
with a warning.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import threading
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from pydantic import Field, ValidationError

from reason.errors import ConfigError, UnknownComponentError
from reason.types import Frozen, first_error

logger = logging.getLogger(__name__)

GROUPS = ("generator", "searcher", "verifier", "prm", "equivalence")
_LABELS = {"generator": "backend", "searcher": "strategy"}
"""What the command line calls a group's components, for messages."""
_OWN_DISTRIBUTION = "reason-search"


class Registry:
    """Name -> component, per group. Values are objects or lazy "module:attr" strings."""

    def __init__(self, discover: bool = True) -> None:
        self._entries: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
        self._discovered = not discover
        self._reads_metadata = discover
        self._discovering = threading.Lock()
        """Held while the entry points are read: a thread arriving meanwhile waits, never sees a half-filled table."""

    def register(self, group: str, name: str, target: Any) -> None:
        self._check_group(group)
        if name in self._entries[group]:
            logger.warning("%s %r registered again; the newer one wins", group, name)
        self._entries[group][name] = target

    def unregister(self, group: str, name: str) -> None:
        self._check_group(group)
        self._entries[group].pop(name, None)

    def names(self, group: str) -> list[str]:
        self._check_group(group)
        self._discover()
        return sorted(self._entries[group])

    def target(self, group: str, name: str) -> str:
        """Where a component comes from, as "module:attr" (for listings)."""
        self._discover()
        entry = self._lookup(group, name)
        return entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__qualname__}"

    def get(self, group: str, name: str) -> Any:
        """The component itself (a class or factory), imported on first use."""
        self._discover()
        entry = self._lookup(group, name)
        if isinstance(entry, str):
            entry = _import_target(entry)
            self._entries[group][name] = entry
        return entry

    def build(self, group: str, name: str, **params: Any) -> Any:
        """The component `name` built with `params`; invalid parameters are a `ConfigError`."""
        factory = self.get(group, name)
        try:
            return factory(**params)
        except ValidationError as exc:  # a factory that is no model of ours
            raise ConfigError(f"invalid parameters for {_LABELS.get(group, group)} {name!r}: {first_error(exc)}") from exc
        except ConfigError as exc:
            said = f"{exc.field}: {exc.reason}" if exc.field else str(exc)
            if exc.reason == "Extra inputs are not permitted":
                said = self._not_taken(group, name, exc.field)
            raise ConfigError(f"invalid parameters for {_LABELS.get(group, group)} {name!r}: {said}",
                              field=exc.field, reason=exc.reason) from exc

    def _not_taken(self, group: str, name: str, field: str) -> str:
        """"n" for a strategy without one: what it takes instead, and which components take "n"."""
        takes = sorted(getattr(self.get(group, name), "model_fields", {}))
        others = []
        for other in self.names(group):
            try:
                if field in getattr(self.get(group, other), "model_fields", {}):
                    others.append(other)
            except Exception:  # a plugin that fails to import just is not listed here
                continue
        where = f"; {', '.join(others)} take {field}" if others else ""
        return f"it takes no parameter {field!r} (it takes: {', '.join(takes) or 'none'}){where}"

    def _lookup(self, group: str, name: str) -> Any:
        self._check_group(group)
        try:
            return self._entries[group][name]
        except KeyError:
            known = list(self._entries[group])
            detail = _empty_group_detail(group) if self._reads_metadata and not known else ""
            raise UnknownComponentError(group, name, known, detail) from None

    def _check_group(self, group: str) -> None:
        if group not in GROUPS:
            raise ConfigError(f"unknown component group {group!r}; groups: {', '.join(GROUPS)}")

    def _discover(self) -> None:
        if self._discovered:
            return
        with self._discovering:
            if self._discovered:  # another thread finished it while this one waited
                return
            allowed = _allowed_distributions()
            for group in GROUPS:
                for ep in entry_points(group=f"reason.{group}s"):
                    dist = ep.dist.name if ep.dist is not None else _OWN_DISTRIBUTION
                    if allowed is not None and dist != _OWN_DISTRIBUTION and dist not in allowed:
                        logger.debug("skipping %s %r from %s (not in REASON_PLUGINS)", group, ep.name, dist)
                        continue
                    self._entries[group].setdefault(ep.name, ep.value)
            self._discovered = True  # only now: a lookup that sees the flag sees every entry


def _empty_group_detail(group: str) -> str:
    """Why a group can be empty although `reason` ships built-ins in it: the metadata read was not ours."""
    try:
        origin = getattr(importlib.metadata.distribution(_OWN_DISTRIBUTION), "_path", "?")
    except importlib.metadata.PackageNotFoundError:
        origin = "nowhere (reason-search is not installed)"
    return (f" (none of reason's own {group}s came through its package metadata, read from {origin}; "
            f"reinstall it: pip install -e .)")


def _allowed_distributions() -> set[str] | None:
    raw = os.environ.get("REASON_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _import_target(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        obj: Any = module
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load component {target!r}: {exc}") from exc
    return obj


registry = Registry()
"""The process-wide registry."""


class ComponentSpec(Frozen):
    """A registered component by name, with its constructor parameters."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


def named(value: Any, table: Iterable[str], what: str, plural: str | None = None) -> Any:
    """`value` — a name, or a tuple of names — when every name is in `table`; else a ValueError listing the choices.

    For field validators over the small named tables (selections, evaluations, tiers, ...).
    Example: named("rollout", EVALUATIONS, "evaluation") -> "rollout"
    """
    choices = list(table)
    unknown = [n for n in ((value,) if isinstance(value, str) else value) if n not in choices]
    if unknown:
        shown = repr(value) if isinstance(value, str) else str(unknown)
        raise ValueError(f"unknown {what} {shown}; {plural or what + 's'}: {', '.join(choices)}")
    return value


def component_choice(group: str, value: Any, instance_of: type, label: str, objects: str) -> Any:
    """Validate a component given by config: a registered name, a ComponentSpec (or a dict of
    one), or an object that already is one (`instance_of`, a runtime-checkable protocol).

    `label` names it in errors ("prm", "base searcher"); `objects` says what objects are accepted.
    Example: component_choice("prm", "llm-judge", PRM, "prm", "...") -> ComponentSpec(name="llm-judge")
    """
    if isinstance(value, str):
        value = ComponentSpec(name=value)
    elif isinstance(value, dict):
        value = ComponentSpec(**value)
    if isinstance(value, ComponentSpec):
        known = registry.names(group)
        if value.name not in known:
            raise ConfigError(f"unknown {label} {value.name!r}; registered {group}s: {', '.join(known)}")
        return value
    if isinstance(value, instance_of):
        return value
    raise ConfigError(f"a {label} is a registered name, a spec (name and params) or {objects}; got {type(value).__name__}")


def build_choice(group: str, choice: Any) -> Any:
    """The object for a choice validated by `component_choice`: a spec is built through the registry
    (its parameters validated), an object is returned as it is."""
    return registry.build(group, choice.name, **choice.params) if isinstance(choice, ComponentSpec) else choice
