import sys

import pytest

import reason
from reason.errors import ConfigError, UnknownComponentError
from reason.registry import Registry


def test_builtins_come_from_entry_points():
    assert {"cot", "self-consistency"} <= set(reason.registry.names("searcher"))
    assert {"vllm", "http", "fake"} <= set(reason.registry.names("generator"))
    assert "match" in reason.registry.names("verifier")
    assert reason.registry.target("generator", "vllm") == "reason.backends.vllm_backend:VLLMGenerator"


def test_unknown_name_lists_what_is_registered():
    with pytest.raises(UnknownComponentError) as info:
        reason.registry.get("searcher", "no-such-strategy")
    message = str(info.value)
    assert "no-such-strategy" in message and "cot" in message and "self-consistency" in message
    assert isinstance(info.value, KeyError) and isinstance(info.value, reason.ReasonError)


def test_unknown_group_is_a_config_error():
    with pytest.raises(ConfigError):
        Registry(discover=False).names("widgets")


def test_lazy_targets_import_on_first_get():
    reg = Registry(discover=False)
    reg.register("searcher", "json-dumps", "json:dumps")
    import json

    assert reg.get("searcher", "json-dumps") is json.dumps
    reg.register("searcher", "broken", "no_such_module_xyz:thing")
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        reg.get("searcher", "broken")


def test_allow_list_keeps_own_components(monkeypatch):
    monkeypatch.setenv("REASON_PLUGINS", "some-other-dist")
    reg = Registry()
    assert "cot" in reg.names("searcher")


def test_importing_reason_does_not_import_heavy_libraries():
    import subprocess

    code = "import reason, reason.cli, sys; print(sorted(m for m in sys.modules if m.split('.')[0] in ('vllm','torch','ray','transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_threads_that_meet_a_fresh_registry_all_see_every_component(monkeypatch):
    """Discovery is one step: a thread arriving while another reads the entry points waits for it.

    (Found in CI: a Ray worker's first lookups raced, and one saw "registered equivalences: (none)".)
    """
    import time

    from reason.testing import at_once

    module = sys.modules["reason.registry"]  # `reason.registry` is the registry object itself

    real = module.entry_points

    def slow_entry_points(**kwargs):
        time.sleep(0.02)  # reading package metadata takes a while; the race needs no more than that
        return real(**kwargs)

    monkeypatch.setattr(module, "entry_points", slow_entry_points)
    reg = Registry()
    _, failures = at_once(lambda: reg.get("equivalence", "math"))
    assert failures == []


def test_an_empty_group_says_where_reason_s_metadata_was_read(monkeypatch):
    """Every group has built-ins: finding none means the package metadata read was not ours, and the error says where."""
    monkeypatch.setattr(sys.modules["reason.registry"], "entry_points", lambda **kwargs: [])
    with pytest.raises(UnknownComponentError, match=r"registered equivalences: \(none\) \(none of reason's own .*read from /"):
        Registry().get("equivalence", "math")
    with pytest.raises(UnknownComponentError, match=r"registered searchers: \(none\)$"):
        Registry(discover=False).get("searcher", "cot")
