"""Make a Solidity compiler of the pinned version available to py-solc-x and brownie.

Order of preference: a native `solc` of the right version (on PATH or already in py-solc-x's
folder), then a native build installed by py-solc-x (needs the internet), then the npm package
`solc` (solcjs) behind `tools/solcjs-wrapper.sh`, installed as `~/.solcx/solc-v<version>` where
py-solc-x and brownie look for compilers. The choice is automatic.

Run as `python -m ledger.chain.toolchain` to install and print the compiler used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ledger.config import env
from ledger.errors import CompilerNotFound
from ledger.paths import ROOT, node_modules

SOLC_VERSION = "0.8.28"
#: Paris (the Merge fork, before Shanghai's PUSH0): run by Besu, GoQuorum, EthereumJS and geth-based
#: PoA networks alike, so the same bytecode deploys on any consortium client.
EVM_VERSION = "paris"
_WRAPPER_MARK = 'solcjs (npm "solc") behind the command line of a native solc'


def solcx_dir() -> Path:
    """py-solc-x's compiler folder (`SOLCX_BINARY_PATH` or `~/.solcx`)."""
    return Path(os.environ.get("SOLCX_BINARY_PATH", Path.home() / ".solcx"))


def _version_of(binary: Path | str) -> str | None:
    try:
        out = subprocess.run([str(binary), "--version"], check=False, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"Version: (\d+\.\d+\.\d+)", out)
    return m.group(1) if m else None


def _is_live_wrapper(path: Path) -> bool:
    """A wrapper written for another checkout points at a solc.js that may be gone."""
    text = path.read_text(errors="replace")
    if _WRAPPER_MARK not in text:
        return True  # a native binary
    m = re.search(r'^SOLCJS="(.*)"$', text, re.M)
    if not (m and Path(m.group(1)).is_file()):
        return False
    # written from an older template: rewrite it
    return text == (ROOT / "tools" / "solcjs-wrapper.sh").read_text().replace("@SOLCJS@", m.group(1))


def _install_wrapper(target: Path, version: str) -> Path:
    solcjs = node_modules() / "solc" / "solc.js"
    if not solcjs.is_file():
        raise CompilerNotFound(
            f"no Solidity compiler {version}: no native solc, and {solcjs} is missing (run `npm ci`)"
        )
    if shutil.which("node") is None:
        raise CompilerNotFound(f"no Solidity compiler {version}: solcjs needs Node.js and `node` is not on PATH")
    template = (ROOT / "tools" / "solcjs-wrapper.sh").read_text()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(template.replace("@SOLCJS@", str(solcjs)))
    tmp.chmod(0o755)
    tmp.replace(target)
    found = _version_of(target)
    if found != version:
        raise CompilerNotFound(f"solcjs at {solcjs} reports version {found}, expected {version}")
    return target


def ensure_solc(version: str = SOLC_VERSION, *, try_download: bool = True) -> Path:
    """Return the path of a working solc `version`, installing one if needed."""
    native = shutil.which("solc")
    if native and _version_of(native) == version:
        return Path(native)
    target = solcx_dir() / f"solc-v{version}"
    if target.is_file() and _is_live_wrapper(target) and _version_of(target) == version:
        return target
    if try_download and not env().solc_no_download:
        try:
            import solcx

            solcx.install_solc(version, solcx_binary_path=str(solcx_dir()))
            if _is_live_wrapper(target) and _version_of(target) == version:
                return target
        except Exception:  # noqa: BLE001, S110 - offline or unsupported platform: fall back to solcjs
            pass
    return _install_wrapper(target, version)


def main() -> None:
    path = ensure_solc()
    kind = "solcjs wrapper" if _WRAPPER_MARK in path.read_text(errors="replace") else "native"
    print(f"solc {SOLC_VERSION} ({kind}): {path}")


if __name__ == "__main__":
    main()
