"""The trace explorer page: one self-contained HTML file that draws searches and benchmark runs.

A page is a template (`reason/assets/explorer.html`) with its script and style inlined and the
data it shows embedded as JSON. Nothing is fetched: no CDN, no fonts, no images, so the page
works from `file://` offline and in a notebook. A Content-Security-Policy allows only the page's
own script (by a nonce drawn per page) and no network at all, and the script writes every model
string with `textContent`, never as markup; the embedded JSON escapes `<`, `>` and `&`, so a
`</script>` in model text cannot end the data block.

The data is a "payload": a list of runs, each with its summary rows and its searches; a sweep
adds its points. `result_view` turns a `SearchResult` into one search's view; `reason.show`
builds views from benchmark records, and the page draws both the same way.

Leaves out: reading run directories (`reason.show` does that) and any server; the page is a file.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

from reason.tasks import task_style
from reason.tree import NODE_DEFAULTS, ROOT, graph_from_json
from reason.types import Compute, SearchResult

Payload = dict[str, Any]
View = dict[str, Any]



@cache
def _asset(name: str) -> str:
    return resources.files("reason").joinpath("assets", name).read_text("utf-8")


def embed_json(data: Any) -> str:
    """JSON that is safe inside a `<script type="application/json">` block (and inside any HTML text)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    for raw, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def page_html(payload: Payload) -> str:
    """The whole page for a payload (see the module docstring)."""
    parts = {
        "title": html.escape(str(payload.get("title", "reason"))),
        "nonce": secrets.token_urlsafe(18),
        "style": _asset("explorer.css"),
        "data": embed_json(payload),
        "script": _asset("explorer.js"),
    }
    # one pass over the template: text that was substituted is never searched again
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], _asset("explorer.html"))


def ledger_rows(compute: Compute, cache_hits: int | None = None, cache_generated: int | None = None) -> list[list[str]]:
    """The compute ledger as (label, value) rows: policy and PRM apart."""
    rows = [
        ["policy prompt tokens", f"{compute.prompt_tokens:,}"],
        ["policy generated tokens", f"{compute.generated_tokens:,}"],
        ["policy calls", f"{compute.model_calls:,}"],
        ["PRM prompt tokens", f"{compute.prm_prompt_tokens:,}"],
        ["PRM generated tokens", f"{compute.prm_generated_tokens:,}"],
        ["PRM calls", f"{compute.prm_calls:,}"],
        ["wall time", f"{compute.wall_time_s:.2f} s"],
    ]
    if cache_hits is not None:
        rows.append(["generation cache: hits / generated", f"{cache_hits} / {cache_generated}"])
    return rows


def tree_view(tree: dict[str, Any] | None, reasoning: str, answer: str | None,
              verdict_of: Callable[[str], str | None]) -> View | None:
    """A tree in node-link JSON as the page draws it: nodes in id order with their parent, and the chosen path.

    A terminal node's `verdict` (pass/fail) comes from `verdict_of(answer)` unless the searcher set one.
    The chosen path ends at the node whose text (or whole prefix) is the result's reasoning; failing that,
    at the first terminal node with the chosen answer.
    """
    if not tree:
        return None
    graph = graph_from_json(tree)
    parents = {child: parent for parent, child in graph.edges}
    nodes = []
    for node in sorted(graph.nodes):
        data = graph.nodes[node]
        shown = {k: data[k] for k, default in NODE_DEFAULTS.items() if k in data and data[k] != default}
        if data.get("terminal") and data.get("answer") is not None and not data.get("verdict"):
            verdict = verdict_of(data["answer"])
            if verdict:
                shown["verdict"] = verdict
        nodes.append({"id": node, "parent": parents.get(node), **shown})
    return {"nodes": nodes, "chosen": _chosen_path(graph, parents, reasoning, answer)}


def _chosen_path(graph: Any, parents: dict[int, int], reasoning: str, answer: str | None) -> list[int]:
    target = reasoning.strip()
    ends = [n for n in sorted(graph.nodes) if n != ROOT and graph.out_degree(n) == 0]
    end = next((n for n in ends if target and _prefix(graph, parents, n).strip() == target), None)
    if end is None:
        end = next((n for n in ends if target and graph.nodes[n].get("text", "").strip() == target), None)
    if end is None and answer is not None:
        end = next((n for n in ends if graph.nodes[n].get("terminal") and graph.nodes[n].get("answer") == answer), None)
    path: list[int] = []
    while end is not None and end != ROOT:
        path.append(end)
        end = parents.get(end)
    return path[::-1]


def _prefix(graph: Any, parents: dict[int, int], node: int) -> str:
    parts = []
    while node != ROOT and node in parents:
        data = graph.nodes[node]
        parts.append(data.get("text", "") + data.get("sep", ""))
        node = parents[node]
    return "".join(reversed(parts))


def status(answer: str | None, correct: bool | None) -> str:
    """A search's outcome as the page filters it: correct, wrong, none (no answer) or unknown (no reference)."""
    if answer is None:
        return "none"
    return "unknown" if correct is None else ("correct" if correct else "wrong")


def result_view(result: SearchResult, index: int = 0) -> View:
    """One search, from a `SearchResult`; answers are checked against the problem's reference (when it has one)
    with the task style's answer equivalence, the same test votes use."""
    problem = result.problem
    equivalent = task_style(problem.task).equivalent
    reference = problem.answer

    def verdict_of(answer: str | None) -> str | None:
        if reference is None or answer is None:
            return None
        return "pass" if equivalent(answer, reference) else "fail"

    correct = None if reference is None or result.answer is None else verdict_of(result.answer) == "pass"
    return {
        "id": problem.id or f"search-{index}",
        "question": problem.question,
        "reference": reference,
        "answer": result.answer,
        "status": status(result.answer, correct),
        "strategy": result.strategy,
        "reasoning": result.reasoning,
        "candidates": [{"answer": c.answer, "votes": c.votes, "score": c.score, "verdict": verdict_of(c.answer)}
                       for c in result.candidates],
        "samples": [{"answer": s.answer, "score": s.score, "tokens": s.generated_tokens, "finish": s.finish_reason,
                     "verdict": verdict_of(s.answer), "text": s.text, "thinking": s.thinking} for s in result.samples],
        "ledger": ledger_rows(result.compute),
        "tree": tree_view(result.search_tree, result.reasoning, result.answer, verdict_of),
        "trace": result.trace,
    }


def iframe_html(page: str, height: int = 720) -> str:
    """A page inside a sandboxed `<iframe srcdoc>`: how a notebook shows it without its style or script leaking out."""
    return (f'<iframe sandbox="allow-scripts" style="width:100%;height:{height}px;border:1px solid #ccc" '
            f'srcdoc="{html.escape(page)}"></iframe>')


def search_payload(results: Iterable[SearchResult], title: str = "reason: search") -> Payload:
    """A page of one or more searches (no run summary)."""
    return {"title": title, "sweep": None,
            "runs": [{"name": "searches", "summary": None, "searches": [result_view(r, i) for i, r in enumerate(results)]}]}
