"""The package's layers, held by parsing every module's imports (top-level and inside functions).

- core (`reason.*` minus the two layers below) imports only the core;
- plugins (`reason.searchers`, `reason.verifiers`, `reason.prm`) import the core and their own package;
- the application (`reason.api`, `reason.cli`, `reason.bench_cli`, `reason.bench`, `reason.distributed`, `reason.show`,
  and the `reason` package itself, which re-exports the public surface) may import anything,
  except that `reason.bench` never imports `reason.distributed` (the CLI wires the Ray pool in);
- nothing imports a bare `searchers`, `verifiers` or `prm`: they exist only as `reason.*`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"reason": "reason", "searchers": "reason.searchers", "verifiers": "reason.verifiers", "prm": "reason.prm"}
PLUGINS = ("reason.searchers", "reason.verifiers", "reason.prm")
APPLICATION = ("reason.api", "reason.cli", "reason.cli_support", "reason.cli_components", "reason.bench_cli", "reason.bench",
               "reason.distributed", "reason.serve", "reason.show",
               "reason.prm_data", "reason.prm_train", "reason.prm_cli")
FACADE = "reason"
"""The package itself re-exports the public surface (api included), so it sits with the application."""
BARE = ("searchers", "verifiers", "prm")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer(module: str) -> str:
    if module == FACADE:
        return "application"
    if any(_within(module, p) for p in PLUGINS):
        return "plugin"
    if any(_within(module, a) for a in APPLICATION):
        return "application"
    return "core"


def imported(source: str, module: str) -> list[str]:
    """Every module `source` imports, relative imports resolved against `module`."""
    names = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names.append(base)
    return names


def violations(module: str, source: str) -> list[str]:
    """What `module` (whose text is `source`) imports against the layer rules."""
    found = []
    own = layer(module)
    for name in imported(source, module):
        if name.split(".")[0] in BARE:
            found.append(f"{module} imports bare {name}")
        if not _within(name, "reason"):
            continue
        theirs = layer(name)
        if own == "core" and theirs != "core":
            found.append(f"core {module} imports {theirs} {name}")
        elif own == "plugin" and theirs == "application":
            found.append(f"plugin {module} imports application {name}")
        elif own == "plugin" and theirs == "plugin" and not _within(name, _plugin_of(module)):
            found.append(f"plugin {module} imports another plugin {name}")
        elif _within(module, "reason.bench") and _within(name, "reason.distributed"):
            found.append(f"{module} imports {name}: bench never imports distributed")
    return found


def _plugin_of(module: str) -> str:
    return next(p for p in PLUGINS if _within(module, p))


def our_modules() -> dict[str, str]:
    modules = {}
    for folder, package in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            modules[".".join([package, *parts])] = path.read_text("utf-8")
    return modules


def test_every_module_keeps_to_its_layer():
    modules = our_modules()
    assert len(modules) > 80 and "reason.searchers.beam" in modules and "reason.prm.hf" in modules
    found = [v for name, source in modules.items() for v in violations(name, source)]
    assert found == []


def test_tests_benchmarks_and_scripts_use_only_the_namespace():
    for folder in ("tests", "benchmarks", "scripts"):
        for path in (REPO / folder).rglob("*.py"):
            bare = [n for n in imported(path.read_text("utf-8"), "x") if n.split(".")[0] in BARE]
            assert bare == [], path


@pytest.mark.parametrize(
    ("module", "source", "message"),
    [
        ("reason.tasks", "from reason.verifiers.grader import equivalent", "core reason.tasks imports plugin"),
        ("reason.voting", "def f():\n    import reason.bench.records", "core reason.voting imports application"),
        ("reason.searchers.compose", "from reason.api import make_searcher", "plugin reason.searchers.compose imports"),
        ("reason.prm.from_verifier", "from reason.verifiers.grader import Grader", "imports another plugin"),
        ("reason.bench.runner", "from reason.distributed.pool import RayPool", "bench never imports distributed"),
        ("reason.searchers.beam", "from ..verifiers import grader", "imports another plugin reason.verifiers"),
        ("reason.api", "import verifiers.grader", "imports bare verifiers"),
    ],
)
def test_the_checker_catches_each_broken_rule(module, source, message):
    found = violations(module, source)
    assert any(message in v for v in found), found


def test_the_checker_allows_what_the_rules_allow():
    assert violations("reason.cli", "from reason.distributed import RayPool\nimport reason.verifiers.lean_cli") == []
    assert violations("reason.searchers.beam", "from reason.searchers.stepwise import X\nfrom reason.tree import T") == []
    assert violations("reason.distributed.pool", "from reason.bench.records import R") == []
