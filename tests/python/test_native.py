"""The hash path's compiled build (`ledger.native`): used where `make setup` built it from the source
as it is, never where the source changed since; the same hash IDs either way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ledger import native
from ledger.paths import ROOT

EXAMPLE = sorted((ROOT / "tests" / "fixtures" / "epcis").glob("**/*.jsonld"))[0]
PROBE = f"""
import json
from ledger import native
from ledger.trace.epcis import reading
ids = reading.hash_ids(open({str(EXAMPLE)!r}, "rb").read())
print(json.dumps({{"ids": ids, "status": native.status()}}))
"""


def _run(**env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, **env}, cwd=ROOT)  # fmt: skip
    return json.loads(out.stdout)


def test_the_built_modules_are_loaded_and_hash_as_the_source_does():
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine: `make setup` leaves the hash path uncompiled")
    assert native.build(), "`python -m ledger.native` could not build with a C compiler present"
    compiled, plain = _run(), _run(LEDGER_NATIVE="false")
    assert set(compiled["status"].values()) == {"compiled"}, compiled["status"]
    assert set(plain["status"].values()) == {"source"}, plain["status"]
    assert compiled["ids"] == plain["ids"] and len(compiled["ids"]) > 1


def test_a_build_of_another_source_is_never_loaded():
    name = "ledger.trace.epcis.canonical"
    fresh = native._Finder({"modules": {name: native._digest(native.source(name))}})
    stale = native._Finder({"modules": {name: "0" * 64}})  # built before the source's last edit
    assert stale.find_spec(name) is None and "source" in stale.loaded[name]
    assert fresh.find_spec("ledger.trace.epcis.capture") is None  # not one of the compiled modules
    spec = fresh.find_spec(name)
    if native._built(name).exists():
        assert spec is not None and spec.origin == str(native._built(name))
    else:
        assert spec is None
