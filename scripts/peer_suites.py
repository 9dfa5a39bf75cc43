"""Bring other graders' public test suites onto this machine, from the package registry, for our tests.

Each suite is the source distribution of a published grader, pinned by version and sha256, whose
`tests/` folder (with the licence) is unpacked under `.cache/peer-suites/<name>-<version>/`. Nothing of
it is committed: the tests read the labelled cases from there (tests/peer_cases.py). Idempotent.

    python scripts/peer_suites.py
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / ".cache" / "peer-suites"
SUITES = {
    # huggingface/Math-Verify, Apache-2.0 (LICENCE in the sdist); its tests/ are the labelled cases.
    "math-verify": ("0.9.0", "math_verify", "45ac6c61344ba056b9e99a660a4bc8d044ed408f730aed68c60435aa5eec4645"),
}


def fetch(name: str, version: str, stem: str, sha256: str) -> Path:
    target = ROOT / f"{name}-{version}"
    if (target / "tests").is_dir():
        return target
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "--disable-pip-version-check", "-d", scratch, f"{name}=={version}"], check=True)
        archive = Path(scratch) / f"{stem}-{version}.tar.gz"
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != sha256:
            raise SystemExit(f"{archive.name}: sha256 {digest}, expected {sha256}")
        with tarfile.open(archive) as tar:
            wanted = [m for m in tar.getmembers() if m.name.split("/")[1:2] in (["tests"], ["LICENCE"], ["LICENSE"])]
            tar.extractall(scratch, members=wanted, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        Path(scratch, f"{stem}-{version}").rename(target)
    return target


if __name__ == "__main__":
    for suite, (version, stem, sha) in SUITES.items():
        print(fetch(suite, version, stem, sha))
