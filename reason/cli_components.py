"""`reason components`: everything a user can name, and one component's parameters.

Kinds: the registry's groups (generator, searcher, verifier, prm, equivalence) plus the task styles,
vote rules and bundled datasets. A component's parameters come from its pydantic fields: type,
default, and the help written under each field (the attribute docstring), read from the source.
Leaves out: plugin components that fail to import (listed by name, their parameters refused with the
import error).
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from typing import Any

from reason.errors import ConfigError
from reason.registry import GROUPS, registry

KINDS = (*GROUPS, "task", "vote", "dataset")


def component_rows(kind: str | None) -> list[list[str]]:
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    rows: list[list[str]] = []
    for each in [kind] if kind else KINDS:
        rows += [[each, name, about] for name, about in _listing(each)]
    return rows


def _listing(kind: str) -> list[tuple[str, str]]:
    if kind == "task":
        from reason.tasks import task_names

        return [(name, "task style: prompt and answer extraction") for name in task_names()]
    if kind == "vote":
        from reason.voting import VOTES

        return [(name, _first_line(rule)) for name, rule in VOTES.items()]
    if kind == "dataset":
        from reason.bench.datasets import dataset_names

        return [(name, "bundled dataset") for name in dataset_names()]
    return [(name, registry.target(kind, name)) for name in registry.names(kind)]


def _first_line(thing: Any) -> str:
    return (inspect.getdoc(thing) or "").split("\n", 1)[0]


def parameter_rows(kind: str, name: str) -> list[list[str]]:
    if kind not in GROUPS:
        raise ConfigError(f"only registry components have parameters; kinds with them: {', '.join(GROUPS)}")
    component = registry.get(kind, name)
    fields = getattr(component, "model_fields", None)
    if fields is None:
        signature = inspect.signature(component)
        return [[p, _type_name(v.annotation), "" if v.default is inspect.Parameter.empty else repr(v.default), ""]
                for p, v in signature.parameters.items() if v.kind is not inspect.Parameter.VAR_KEYWORD]
    docs = field_docs(component)
    return [[field, _type_name(info.annotation), "(required)" if info.is_required() else repr(info.get_default(
        call_default_factory=True)), docs.get(field, info.description or "")] for field, info in fields.items()]


def _type_name(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def field_docs(model: type) -> dict[str, str]:
    """The string under each annotated field, for the model and its bases (nearest wins)."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, following in itertools.pairwise(body):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs
