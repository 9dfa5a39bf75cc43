"""Shared fixtures. The real-model generator is started once per test session and shared,
because a vLLM engine costs seconds to start and memory to hold."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def vllm_generator():
    """The bundled SmolLM2 model in an in-process vLLM engine (the real default backend)."""
    from reason.backends.vllm_backend import VLLMGenerator

    generator = VLLMGenerator()
    yield generator
    generator.close()


@pytest.fixture(scope="session")
def bundled_model_path() -> str:
    from reason.models import resolve_model

    return resolve_model(None).path


@pytest.fixture(scope="session")
def lean_checker():
    """The WebAssembly Lean checker, shared by the whole session: installed first when absent
    (`reason lean install`'s own installer, so a fresh clone tests what users get), started once."""
    from reason.verifiers.lean_backend import lean_backend
    from reason.verifiers.lean_install import install, installed

    if installed() is None:
        install()
    checker = lean_backend("wasm")
    checker.start()
    yield checker
    checker.close()
