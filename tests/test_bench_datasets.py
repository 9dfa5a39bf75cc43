"""Datasets: the bundled sets load with their answers; user JSONL maps fields; bad lines name their number."""

import json

import pytest

from reason.bench.datasets import FieldMap, load_dataset
from reason.bench.errors import DatasetError
from reason.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "rows", "first_id", "first_answer", "task"),
    [
        ("gsm8k", 1319, "gsm8k-test-0", "18", "gsm8k"),
        ("math", 5000, "math-test-0", "2", "math"),
        ("math500", 500, "test/precalculus/807.json", "\\left( 3, \\frac{\\pi}{2} \\right)", "math"),
    ],
)
def test_bundled_sets_load_every_row_with_a_reference(name, rows, first_id, first_answer, task):
    data = load_dataset(name)
    assert len(data.problems) == rows
    assert len({p.id for p in data.problems}) == rows
    assert all(p.answer for p in data.problems)
    first = data.problems[0]
    assert (first.id, first.answer, first.task) == (first_id, first_answer, task)
    assert len(data.digest) == 64


def test_gsm8k_answers_lose_thousands_separators():
    answers = {p.answer for p in load_dataset("gsm8k").problems}
    assert not any("," in a for a in answers)


def test_user_jsonl_with_field_mapping(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(
        json.dumps({"prompt": "What is 2+2?", "gold": 4, "key": "a"}) + "\n\n"
        + json.dumps({"prompt": "What is 3+3?", "gold": "6", "key": "b"}) + "\n"
    )
    data = load_dataset(str(path), FieldMap(question="prompt", answer="gold", id="key"), task="math")
    assert [(p.id, p.question, p.answer, p.task) for p in data.problems] == [
        ("a", "What is 2+2?", "4", "math"), ("b", "What is 3+3?", "6", "math")
    ]
    assert data.name == "mine"


def test_user_jsonl_without_id_field_uses_the_row_index(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"question": "q1"}\n{"question": "q2", "answer": null}\n')
    data = load_dataset(str(path))
    assert [(p.id, p.answer) for p in data.problems] == [("0", None), ("1", None)]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"question": "ok", "answer": "1"}', '{"question": "broken", "answer": '], ":2: not valid JSON"),
        (['{"question": "ok"}', "[1, 2]"], ":2: expected a JSON object"),
        (['{"question": "ok"}', '{"query": "no question field"}'], ":2: no field 'question' (fields: query)"),
        (['{"question": "ok"}', '', '{"question": {"nested": 1}}'], ":3: field 'question' must be a string"),
        (['{"question": ""}'], ":1: question: String should have at least 1 character"),
    ],
)
def test_malformed_lines_are_reported_with_their_line_number(tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as err:
        load_dataset(str(path))
    assert str(path) + message in str(err.value)
    assert isinstance(err.value, ConfigError)


def test_duplicate_ids_are_refused(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"question": "a", "id": "x"}\n{"question": "b", "id": "x"}\n')
    with pytest.raises(DatasetError, match=r":2: duplicate id 'x' \(first on line 1\)"):
        load_dataset(str(path), FieldMap(id="id"))


def test_unknown_dataset_lists_the_bundled_names():
    with pytest.raises(DatasetError, match="gsm8k, math, math500"):
        load_dataset("no-such-set")


def test_a_user_file_in_gsm8ks_own_format_is_graded_on_its_final_answers(tmp_path):
    from reason.registry import registry

    path = tmp_path / "train.jsonl"
    path.write_text('{"question": "Q?", "answer": "48/2 = <<48/2=24>>24\\nso 48+24 = <<48+24=72>>72\\n#### 1,072"}\n'
                    '{"question": "R?", "answer": "9"}\n')
    first, second = load_dataset(str(path)).problems
    assert (first.answer, second.answer) == ("1072", "9")
    assert registry.get("verifier", "match")().verify(first, "1,072").passed
