"""The trace explorer's data and files, without a browser: what a page embeds, what `reason show` reads,
and the commands that write pages (tests/test_page_browser.py renders them in Chromium)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from page_fixtures import INJECTED, arithmetic_run, beam_result
from test_bench_support import arithmetic_generator, write_arithmetic
from typer.testing import CliRunner

from reason.bench.records import read_records
from reason.bench.sweep import SweepConfig, run_sweep
from reason.cli import app
from reason.errors import ConfigError
from reason.page import embed_json, page_html, result_view, search_payload
from reason.show import load_payload, write_page
from reason.testing import FakeGenerator
from reason.types import Problem, SearchResult

runner = CliRunner()


def embedded(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="reason-data">(.*?)</script>', html, re.S)
    assert block, "no data block"
    return json.loads(block.group(1))


def test_embedded_json_cannot_end_its_script_block_and_reads_back_unchanged():
    data = {"text": "</script><script>alert(1)</script> <!-- & \u2028 \u2029 {{script}}"}
    text = embed_json(data)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == data


def test_a_page_is_one_file_with_a_per_page_nonce_and_no_outside_reference():
    result = beam_result()
    first, second = result.to_html(), result.to_html()
    nonces = re.findall(r"nonce-([A-Za-z0-9_-]+)'", first)
    assert len(set(nonces)) == 1 and f'<script nonce="{nonces[0]}">' in first and f'<style nonce="{nonces[0]}">' in first
    assert nonces != re.findall(r"nonce-([A-Za-z0-9_-]+)'", second)
    assert "default-src 'none'" in first
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", first)  # nothing fetched from anywhere
    assert first.count("<script") == 2  # the data block and the page's own script; the injected one is data
    assert embedded(first)["runs"][0]["searches"][0]["question"] == result.problem.question


def test_template_markers_in_model_text_stay_text():
    result = SearchResult(strategy="cot", problem=Problem(question="{{script}} {{nonce}} {{data}}"), answer=None,
                          reasoning="", candidates=(), samples=(), compute={})
    page = page_html(search_payload([result]))
    assert embedded(page)["runs"][0]["searches"][0]["question"] == "{{script}} {{nonce}} {{data}}"


def test_a_search_view_has_every_node_its_chosen_path_and_verdicts_against_the_reference():
    result = beam_result()
    view = result_view(result)
    nodes = {n["id"]: n for n in view["tree"]["nodes"]}
    assert set(nodes) == set(result.tree.nodes)
    assert all(n["parent"] == next(iter(result.tree.predecessors(i)), None) for i, n in nodes.items())
    chosen = [nodes[i]["text"] for i in view["tree"]["chosen"]]
    assert chosen == ["48 / 2 = 24 clips in May.", "48 + 24 = 72 clips.", "The answer is 72."]
    assert result.answer == "72" and view["status"] == "correct"
    verdicts = {n["answer"]: n.get("verdict") for n in nodes.values() if n.get("terminal")}
    assert verdicts["72"] == "pass" and verdicts["96"] == verdicts["48"] == "fail"
    assert {n["text"] for n in nodes.values() if n.get("pruned")} >= {f"Let me think {INJECTED}", "48 * 2 = 96."}
    assert nodes[view["tree"]["chosen"][0]]["score"] == 0.9  # a score is kept whatever its value
    assert next(c["verdict"] for c in view["candidates"]) == "pass"


def test_without_a_reference_the_outcome_is_unknown_and_without_an_answer_none():
    result = beam_result()
    unknown = result.model_copy(update={"problem": result.problem.model_copy(update={"answer": None})})
    assert result_view(unknown)["status"] == "unknown"
    none = result.model_copy(update={"answer": None})
    assert result_view(none)["status"] == "none"


def test_a_run_directory_shows_its_summary_and_every_problem_with_its_tree(tmp_path):
    run_dir = arithmetic_run(tmp_path, 6)
    payload = load_payload(run_dir)
    [run] = payload["runs"]
    records = read_records(run_dir)
    assert [s["id"] for s in run["searches"]] == [r.id for r in records]
    assert dict(run["summary"])["problems"] == "6"
    first = run["searches"][0]
    assert first["tree"]["nodes"] and first["tree"]["chosen"]
    assert {s["status"] for s in run["searches"]} <= {"correct", "wrong", "none"}
    cache = records[0].cache
    assert first["ledger"][-1] == ["generation cache: hits / generated", f"{cache.hits} / {cache.generated}"]
    assert ["policy generated tokens", str(records[0].compute.generated_tokens)] in first["ledger"]
    assert load_payload(run_dir / "records.jsonl")["runs"][0]["searches"] == run["searches"]


def test_a_trace_stored_apart_is_read_back_into_the_page(tmp_path, monkeypatch):
    import reason.bench.grading as grading

    monkeypatch.setattr(grading, "INLINE_TRACE_BYTES", 10)  # every trace goes to traces/<id>.json
    run_dir = arithmetic_run(tmp_path, 2)
    assert all(r.trace_file for r in read_records(run_dir))
    assert all(s["tree"]["nodes"] for s in load_payload(run_dir)["runs"][0]["searches"])


def test_a_sweep_shows_its_points_each_opening_its_run(tmp_path):
    from reason.bench_cli import _write_sweep

    data = write_arithmetic(tmp_path / "arith.jsonl", 4)
    config = SweepConfig(dataset=str(data), strategies=("cot", "self-consistency"), budgets=(30, 60),
                         common={"max_tokens": 32}, backend="fake", question_field="q", answer_field="a", id_field="id")
    points = run_sweep(config, tmp_path / "sweep", arithmetic_generator(wrong_every=3))
    _write_sweep(points, tmp_path / "sweep", tmp_path / "sweep" / "sweep.png", "arith")
    payload = load_payload(tmp_path / "sweep")
    assert len(payload["sweep"]) == len(points) == len(payload["runs"])
    for point in payload["sweep"]:
        run = payload["runs"][point["run"]]
        assert len(run["searches"]) == point["problems"] == 4
        assert run["name"] in {p.run_dir.rsplit("/", 1)[-1] for p in points}


def test_saved_results_as_json_a_list_or_json_lines(tmp_path):
    result = beam_result()
    one, lines, listed = tmp_path / "one.json", tmp_path / "many.jsonl", tmp_path / "list.json"
    one.write_text(result.model_dump_json())
    lines.write_text(result.model_dump_json() + "\n" + result.model_dump_json() + "\n")
    listed.write_text(json.dumps([result.model_dump(mode="json")] * 3))
    assert len(load_payload(one)["runs"][0]["searches"]) == 1
    assert len(load_payload(lines)["runs"][0]["searches"]) == 2
    assert len(load_payload(listed)["runs"][0]["searches"]) == 3


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"), ("dir", "neither a run directory"), ("{not json", "not JSON"),
    ('{"question": 1}', "does not hold saved search results"), ("[]", "holds no search results"),
])
def test_what_is_not_a_run_or_a_result_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "thing.json"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_payload(path)


def test_reason_show_writes_the_page_and_says_where(tmp_path):
    run_dir = arithmetic_run(tmp_path, 3)
    out = runner.invoke(app, ["show", str(run_dir)])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == str(run_dir / "explorer.html")
    assert len(embedded((run_dir / "explorer.html").read_text())["runs"][0]["searches"]) == 3
    elsewhere = runner.invoke(app, ["show", str(run_dir), "-o", str(tmp_path / "pages" / "run.html")])
    assert elsewhere.exit_code == 0 and (tmp_path / "pages" / "run.html").is_file()
    missing = runner.invoke(app, ["show", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    folder = runner.invoke(app, ["show", str(run_dir), "-o", str(tmp_path)])
    assert folder.exit_code == 2 and "is a folder" in folder.output


def test_solve_html_writes_the_page_of_that_solve(tmp_path):
    page = tmp_path / "solve.html"
    script = json.dumps(["The answer is 5.", "The answer is 6.", "The answer is 5."])
    out = runner.invoke(app, ["solve", "What is 2+3?", "-s", "self-consistency", "--n", "3", "--backend", "fake",
                              "--backend-opt", f"script={script}", "--html", str(page)])
    assert out.exit_code == 0, out.output
    view = embedded(page.read_text())["runs"][0]["searches"][0]
    assert view["answer"] == "5" and [c["votes"] for c in view["candidates"]] == [2, 1]
    assert len(view["tree"]["nodes"]) == 4
    refused = runner.invoke(app, ["solve", "What is 2+3?", "--backend", "fake", "--html", str(tmp_path)])
    assert refused.exit_code == 2 and "is a folder" in refused.output


def test_a_notebook_shows_the_page_in_a_sandboxed_iframe():
    html = beam_result()._repr_html_()
    assert html.startswith('<iframe sandbox="allow-scripts"') and "<script" not in html  # all of it is escaped srcdoc


def test_serve_links_each_trace_to_its_page():
    from reason.api import Engine
    from reason.serve import ServeConfig, create_app

    client = TestClient(create_app(Engine(generator=FakeGenerator(["The answer is 4."], cycle=True)), ServeConfig()))
    reply = client.post("/v1/chat/completions", json={"model": "reason", "messages": [{"role": "user", "content": "2+2?"}]})
    link = reply.json()["reason"]["trace_page"]
    page = client.get(link)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert embedded(page.text)["runs"][0]["searches"][0]["answer"] == "4"
    assert client.get("/v1/traces/nope/page").status_code == 404


def test_write_page_refuses_nothing_it_can_write(tmp_path):
    result = beam_result()
    saved = tmp_path / "r.json"
    saved.write_text(result.model_dump_json())
    written = write_page(saved, tmp_path / "deep" / "er" / "p.html")
    assert written.read_text().startswith("<!DOCTYPE html>")


def test_tree_nodes_record_the_prefix_cache_hits_the_backend_reported():
    from page_fixtures import BEAM_SCORES, BEAM_STEPS, CLIPS

    from reason.searchers.beam import BeamSearch
    from reason.testing import FakePRM, by_prefix

    class Cached(FakeGenerator):
        def generate(self, prompts, params):
            return [[c.model_copy(update={"cached_prompt_tokens": c.prompt_tokens - 1}) for c in row]
                    for row in super().generate(prompts, params)]

    result = BeamSearch(n=4, width=2, prm=FakePRM(BEAM_SCORES)).search(CLIPS, Cached(by_prefix(BEAM_STEPS)))
    nodes = {n["id"]: n for n in result_view(result)["tree"]["nodes"]}
    deep = [n for n in nodes.values() if n.get("depth", 0) >= 2]
    assert deep and all(n["cached_tokens"] > 0 for n in deep)
    assert all(n.get("cached_tokens", 0) > 0 for n in nodes.values() if n["parent"] is not None)


def test_a_samples_thinking_span_is_shown_apart_from_its_answer():
    from reason.api import Engine
    from reason.testing import FakeGenerator

    def respond(prompt, params):
        return "The answer is 4." if "</think>" in prompt else "two and two </think>"

    with Engine(generator=FakeGenerator(respond), thinking={"max_thinking_tokens": 8}) as engine:
        result = engine.solve("2+2?", "self-consistency", n=2, max_tokens=8)
    [sample, _] = embedded(result.to_html())["runs"][0]["searches"][0]["samples"]
    assert sample["thinking"].strip() == "two and two" and sample["text"] == "The answer is 4."
