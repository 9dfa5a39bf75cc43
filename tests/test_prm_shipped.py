"""The shipped verifier (prm=trained): its card says what it was trained on, it loads over the bundled model
through prm=hf's value-head shape, and (slow) the card's held-out figures reproduce from its own data."""

from __future__ import annotations

from pathlib import Path

import pytest

from reason.prm.shipped import ShippedPRM, card, shipped_names
from reason.registry import registry
from reason.types import Problem

REPO = Path(__file__).resolve().parents[1]


def test_the_default_head_is_shipped_with_a_card_that_says_what_it_is():
    assert "default" in shipped_names()
    info = card("default")
    assert info["shape"] == "value-head" and "smollm2" in info["policy"].lower()
    assert all("train" in run for run in info["data"]["runs"]) and info["data"]["rows"] >= 900
    assert info["config"]["labels"] == "outcome" and 0.0 <= info["held_out"]["auc"] <= 1.0
    assert info["held_out"]["solutions"] > 0 and info["command"].startswith("reason prm train")
    assert (REPO / "prm" / "heads" / "default" / "value_head.safetensors").stat().st_size < 10_000  # a head, not a model


def test_an_unknown_head_is_a_clear_error():
    from reason.errors import ConfigError

    with pytest.raises(ConfigError, match="no shipped verifier 'nope'"):
        ShippedPRM(head="nope").score(Problem(question="q"), [["a"]])


@pytest.mark.model
def test_prm_trained_scores_through_the_value_head_shape_over_the_bundled_model():
    prm = registry.build("prm", "trained")
    problem = Problem(question="Natalia sold clips to 48 of her friends in April, and then half as many in May. How many?")
    steps = [["48 / 2 = 24 clips in May.", "48 + 24 = 72. The answer is 72."], ["48 * 2 = 96.", "The answer is 96."]]
    first = prm.score(problem, steps)
    assert [len(s) for s in first] == [2, 2] and all(0.0 < x < 1.0 for s in first for x in s)
    assert prm.score(problem, steps) == first  # deterministic
    assert prm.tokens_processed > 40  # its forward passes are PRM compute in the ledger, as for prm=hf


@pytest.mark.slow
def test_the_cards_held_out_figures_reproduce_from_its_own_data(tmp_path):
    """Retrains from the card's data file (scripts/build_verifier.sh writes it; about 15 minutes here) and compares:
    the same rows, split and optimiser give the same held-out figures."""
    import hashlib

    from reason.prm_train import TrainConfig, train_prm

    shipped = card("default")
    data = REPO / shipped["data"]["file"]
    if not data.is_file() or hashlib.sha256(data.read_bytes()).hexdigest() != shipped["data"]["sha256"]:
        pytest.skip(f"the card's data file {data} is not here as it was (run scripts/build_verifier.sh)")
    from reason.models import resolve_model

    policy = Path(resolve_model(None).path)  # the bundled model, wherever this machine keeps it
    rebuilt = train_prm(data, policy, tmp_path / "verifier", TrainConfig(**shipped["config"]))
    assert rebuilt["held_out"] == pytest.approx(shipped["held_out"]) and rebuilt["train"] == pytest.approx(shipped["train"])


@pytest.mark.model
@pytest.mark.parametrize(("strategy", "params"), [("best-of-n", {"n": 2, "select": "weighted"}),
                                                  ("best-of-n", {"n": 2, "select": "best"}),
                                                  ("beam", {"n": 2, "width": 1, "step_tokens": 16, "max_steps": 2})])
def test_searchers_select_with_the_shipped_verifier(strategy, params):
    from reason.testing import FakeGenerator

    generator = FakeGenerator(["3 + 4 = 7.\n\nThe answer is 7.", "3 + 4 = 8.\n\nThe answer is 8."], cycle=True)
    result = registry.build("searcher", strategy, prm="trained", **params).search(Problem(question="What is 3 + 4?"), generator)
    assert result.answer in ("7", "8") and all(s.score is not None and 0.0 < s.score < 1.0 for s in result.samples)
    assert result.compute.prm_calls >= 1


def test_searches_building_the_verifier_folder_at_once_all_get_one_whole_folder(tmp_path, monkeypatch):
    """A bench run's problems in flight each build prm=trained at once: the folder is built privately and
    renamed into place (linking in place raced: FileExistsError, and a reader could see half a folder)."""
    from reason.testing import at_once

    monkeypatch.setenv("REASON_CACHE_DIR", str(tmp_path / "cache"))
    policy = tmp_path / "policy"
    policy.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (policy / name).write_text(name)
    folders, errors = at_once(ShippedPRM(model=str(policy))._folder)
    assert errors == [] and len(set(folders)) == 1
    folder = folders[0]
    assert isinstance(folder, Path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "model.safetensors", "prm_card.json", "tokenizer.json", "value_head.safetensors"]
    assert (folder / "model.safetensors").read_text() == "model.safetensors"
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no private copy left behind
