#!/usr/bin/env bash
# The wheel outside the editable install, as a new user gets it: build it, install it into a fresh venv with
# only its declared (non-extra) dependencies, start the CLI and solve on the fake backend; then install the PyPI
# packages `verifiers` and `prm` beside it (--no-deps) and check that each still imports as itself.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" . 2>&1 | grep -v -E "^WARNING: (Location|Running pip)" || true
rm -rf build  # setuptools' scratch copy of the packages; never left beside the sources
wheel=$(ls "$work"/dist/*.whl)
python -c 'import sys, zipfile; print("\n".join(sorted({n.split("/")[0] for n in zipfile.ZipFile(sys.argv[1]).namelist()})))' "$wheel" \
    | grep -v -E '^reason(_search-.*\.dist-info)?$' && {
    echo "check_wheel: the wheel installs more than 'reason' at the top level" >&2; exit 1; }
python -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" "$wheel" 2>&1 | grep -v -E "^WARNING: (Location|Running pip)" || true
cd "$work"  # nothing of the checkout on sys.path
venv/bin/reason --help >/dev/null
venv/bin/reason components > components.txt  # not piped into grep -q: an early-closed pipe is EPIPE, exit 1
grep -q "self-consistency" components.txt
out=$(venv/bin/reason solve "What is 2+3?" -s self-consistency --n 3 --backend fake \
      --backend-opt 'script=["The answer is 5."]' --backend-opt cycle=true --html page.html)
grep -q "answer: 5" <<<"$out" || { echo "check_wheel: the fake solve did not answer 5:"; echo "$out"; exit 1; } >&2
grep -q "reason trace explorer: draws the JSON" page.html || { echo "check_wheel: the page lacks its script (package data?)"; exit 1; } >&2
"${pip[@]}" --no-deps verifiers prm 2>&1 | grep -v -E "^WARNING: (Location|Running pip)" || true
venv/bin/python - <<'PY'
import importlib.metadata as md
import prm, verifiers
import reason, reason.prm, reason.searchers, reason.verifiers
def owner(module):
    path = module.__file__.split("site-packages/", 1)[1]
    return next(d.metadata["Name"] for d in md.distributions() if any(str(f) == path for f in d.files or ()))
assert owner(verifiers) == "verifiers" and owner(prm) == "prm", (owner(verifiers), owner(prm))
assert owner(reason.verifiers) == owner(reason.prm) == owner(reason) == "reason-search"
from reason.prm.shipped import card
assert card("default")["shape"] == "value-head"  # the shipped verifier's head and card are package data
print("check_wheel: ok -", ", ".join(f"{m.__name__} from {owner(m)}" for m in (reason, verifiers, prm)))
PY
