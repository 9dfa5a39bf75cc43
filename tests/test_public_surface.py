"""What `import reason` offers: the four seams, the budget, the capability predicates; `solve` keeps one engine."""

import reason
from reason.testing import FakeGenerator


def test_the_package_exports_every_seam_and_the_budget():
    for name in ("Generator", "Searcher", "Verifier", "PRM", "Budget", "supports_logprobs",
                 "supports_prefix_cache", "supports_request_seed", "Engine", "solve", "close_all"):
        assert name in reason.__all__ and getattr(reason, name) is not None
    assert isinstance(FakeGenerator(["x"]), reason.Generator)


def test_solve_keeps_at_most_one_engine_and_closes_the_one_it_replaces(monkeypatch):
    closed = []
    monkeypatch.setattr(FakeGenerator, "close", lambda self: closed.append(self.script))
    reason.close_all()
    first = reason.solve("2+3?", backend="fake", backend_options={"script": ["The answer is 5."], "cycle": True})
    again = reason.solve("2+3?", backend="fake", backend_options={"script": ["The answer is 5."], "cycle": True})
    assert first.answer == again.answer == "5" and closed == []  # same options: the engine was kept
    other = reason.solve("2+4?", backend="fake", backend_options={"script": ["The answer is 6."], "cycle": True})
    assert other.answer == "6" and len(closed) == 1  # other options: the old engine was closed first
    from reason import api

    assert len(api._engines) == 1
    reason.close_all()
    assert api._engines == {} and len(closed) == 2
