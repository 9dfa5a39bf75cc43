"""Bring other projects' public test suites and reference code onto this machine, from the package registry.

Each is the source distribution of a published package, pinned by version and sha256, of which the named
parts (with the licence) are unpacked under `.cache/peer-suites/<name>-<version>/`. Nothing of it is
committed: tests read it from there. Idempotent.
- math-verify: its `tests/` are labelled grader cases (tests/peer_cases.py, tests/test_grader_peer_suites.py);
- deepconf: the DeepConf authors' own package (facebookresearch/deepconf, MIT per its file headers; the sdist
  ships no licence file); its `utils.py` computes the paper's confidences and filters, the reference
  tests/test_deepconf_reference.py checks ours against.

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
SUITES = {  # name: (version, sdist stem, sha256, the parts to unpack; the first one says it is there)
    # huggingface/Math-Verify, Apache-2.0 (LICENCE in the sdist); its tests/ are the labelled cases.
    "math-verify": ("0.9.0", "math_verify", "45ac6c61344ba056b9e99a660a4bc8d044ed408f730aed68c60435aa5eec4645",
                    ("tests", "LICENCE", "LICENSE")),
    # Yichao Fu et al.'s DeepConf package (pip name deepconf), MIT; the confidence and voting functions.
    "deepconf": ("0.1.0", "deepconf", "e75c8e95c4bca1da0b9ba577bd1263de10d0e5128c2468f2492232fb41e3657f",
                 ("deepconf/utils.py", "README.md")),
}


def fetch(name: str, version: str, stem: str, sha256: str, parts: tuple[str, ...]) -> Path:
    target = ROOT / f"{name}-{version}"
    if (target / parts[0]).exists():
        return target
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "--disable-pip-version-check", "-d", scratch, f"{name}=={version}"], check=True)
        archive = Path(scratch) / f"{stem}-{version}.tar.gz"
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != sha256:
            raise SystemExit(f"{archive.name}: sha256 {digest}, expected {sha256}")
        with tarfile.open(archive) as tar:
            wanted = [m for m in tar.getmembers()
                      if any(f"{m.name.partition('/')[2]}/".startswith(f"{part}/") for part in parts)]
            tar.extractall(scratch, members=wanted, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        Path(scratch, f"{stem}-{version}").rename(target)
    return target


if __name__ == "__main__":
    for suite, (version, stem, sha, parts) in SUITES.items():
        print(fetch(suite, version, stem, sha, parts))
