"""The hash path's Python compiled to C with Cython, from the same source, used only while it is that
source's build.

EPCIS hash IDs are the hot Python of capture and of `ledger verify-events` (issue 31: hash IDs at 2x
OpenEPCIS's Java generator, one thread). Compiled as they stand, the modules below hash ~40 % more
events a second; the source stays the one truth. `make setup` runs `python -m ledger.native`, which
builds them into `build/native/lib` with a manifest of each source's SHA-256. `install()` (called by
`ledger.trace.epcis` before any of them is imported) puts a finder first on `sys.meta_path` that
loads a module's build only when the manifest's hash is the source's as it is now and the build is
for this interpreter: a source edited after the build, a build for another Python, or no build at
all (no C compiler, `LEDGER_NATIVE=0`) all import the plain Python, which behaves the same (the
reference-equality tests pass either way; `status()` says which was loaded).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

from ledger.config import env

MODULES = (
    "ledger.trace.epcis.canonical",
    "ledger.trace.epcis.digital_link_canonical",
    "ledger.trace.epcis.hash_tree",
    "ledger.trace.epcis.hashid",
    "ledger.trace.epcis.identifiers",
    "ledger.trace.epcis.prehash_direct",
    "ledger.trace.epcis.reading",
)
ROOT = Path(__file__).resolve().parent.parent  # (ledger.paths.ROOT: a base module imports no other)
NATIVE = ROOT / "build" / "native"
LIB = NATIVE / "lib"
MANIFEST = NATIVE / "manifest.json"
#: Python semantics kept exactly: annotations are not C types (a `str` annotation must not refuse a
#: subclass or None where the Python accepts it), functions stay introspectable and take keywords
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True}
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def source(name: str) -> Path:
    return ROOT.joinpath(*name.split(".")).with_suffix(".py")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _built(name: str) -> Path:
    return LIB.joinpath(*name.split(".")).with_name(name.rsplit(".", 1)[1] + _SUFFIX)


def _manifest() -> dict:
    try:
        m = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return {}
    return m if isinstance(m, dict) and m.get("abi") == _SUFFIX else {}


class _Finder(importlib.abc.MetaPathFinder):
    """Each listed module's build, while the manifest says it was built from the source as it is."""

    def __init__(self, manifest: dict):
        self.hashes = manifest.get("modules", {})
        self.loaded: dict[str, str] = {}

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 (importlib's signature)
        if fullname not in MODULES:
            return None
        built, src = _built(fullname), source(fullname)
        if not built.exists() or self.hashes.get(fullname) != _digest(src):
            self.loaded[fullname] = "source (no build of this source)"
            return None
        self.loaded[fullname] = "compiled"
        return importlib.util.spec_from_file_location(fullname, built)


def install() -> None:
    """Once per process, before the modules are imported; `LEDGER_NATIVE=0` keeps the plain Python."""
    if not env().native or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    manifest = _manifest()
    if manifest:
        sys.meta_path.insert(0, _Finder(manifest))


def status() -> dict[str, str]:
    """Each listed module: "compiled" or why its source was imported."""
    finder = next((f for f in sys.meta_path if isinstance(f, _Finder)), None)
    out = {}
    for name in MODULES:
        module = sys.modules.get(name)
        if module is None:
            out[name] = "not imported"
        elif finder is not None and finder.loaded.get(name) == "compiled":
            out[name] = "compiled"
        else:
            out[name] = "source" if finder is None else finder.loaded.get(name, "source")
    return out


def compiled_count() -> int:
    return sum(v == "compiled" for v in status().values())


def build() -> bool:
    """Compile the modules whose build is missing or stale; False (and a message) when this machine
    cannot (no Cython or no C compiler): the plain Python is then used."""
    manifest = _manifest() or {"abi": _SUFFIX, "modules": {}}
    todo = [n for n in MODULES if not _built(n).exists() or manifest["modules"].get(n) != _digest(source(n))]
    if not todo:
        print(f"native: {len(MODULES)} modules up to date in {LIB}")
        return True
    try:
        from Cython import __version__ as cython_version
        from Cython.Build import cythonize
        from setuptools import Distribution, Extension
    except ImportError as exc:
        print(f"native: not built ({exc}); the hash path runs as plain Python", file=sys.stderr)
        return False
    hashes = {n: _digest(source(n)) for n in todo}  # of the sources as compiled
    extensions = [Extension(n, [str(source(n))]) for n in todo]
    try:
        modules = cythonize(extensions, compiler_directives=DIRECTIVES, build_dir=str(NATIVE / "c"), quiet=True)
        dist = Distribution({"ext_modules": modules, "script_args": ["-q"]})
        cmd = dist.get_command_obj("build_ext")
        cmd.build_lib, cmd.build_temp, cmd.parallel = str(LIB), str(NATIVE / "tmp"), os.cpu_count() or 1
        cmd.ensure_finalized()
        cmd.run()
    except Exception as exc:  # noqa: BLE001 - a compiler missing or failing leaves the plain Python in use
        print(f"native: not built ({type(exc).__name__}: {exc}); the hash path runs as plain Python", file=sys.stderr)
        return False
    manifest["modules"] |= hashes
    manifest["cython"] = cython_version
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    print(f"native: built {len(todo)} of {len(MODULES)} modules with Cython {cython_version} into {LIB}")
    return True


if __name__ == "__main__":
    build()
