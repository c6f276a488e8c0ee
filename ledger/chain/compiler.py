"""Compile `contracts/` with solc (native or solcjs, see `toolchain`) into JSON artifacts.

Artifacts go to `build/ledger/<Contract>.json` ({"abi", "bytecode"}) plus `build/ledger/index.json`
holding a hash of the sources and settings, so an unchanged tree is not compiled again.
Run as `python -m ledger.compiler`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ledger.chain.toolchain import EVM_VERSION, SOLC_VERSION, ensure_solc
from ledger.errors import CompileFailed
from ledger.paths import ROOT

CONTRACTS_DIR = ROOT / "contracts"
BUILD_DIR = ROOT / "build" / "ledger"
REMAPPINGS = ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"]
#: contracts traceledger deploys, plus the benchmark baseline
DEPLOYABLE = (
    "Governance",
    "Membership",
    "SettlementToken",
    "Provenance",
    "GuaranteeVault",
    "OrderSettlement",
    "DeviceRegistry",
    "NaiveEventStore",
    "PurchaseProofs",
)


def _sources() -> dict[str, dict[str, str]]:
    return {str(p.relative_to(ROOT)): {"content": p.read_text()} for p in sorted(CONTRACTS_DIR.rglob("*.sol"))}


def _input(sources: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": 200},
            "remappings": REMAPPINGS,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }


def _fingerprint(std_input: dict[str, Any]) -> str:
    oz = ROOT / "node_modules" / "@openzeppelin" / "contracts" / "package.json"
    blob = json.dumps(std_input, sort_keys=True) + SOLC_VERSION + (oz.read_text() if oz.exists() else "")
    return hashlib.sha256(blob.encode()).hexdigest()


def compile_contracts(force: bool = False) -> dict[str, dict[str, Any]]:
    """Compile if the sources changed; return {name: {"abi": [...], "bytecode": "0x..."}}."""
    std_input = _input(_sources())
    fingerprint = _fingerprint(std_input)
    index = BUILD_DIR / "index.json"
    if not force and index.exists() and json.loads(index.read_text()).get("fingerprint") == fingerprint:
        return _read_artifacts()
    import solcx
    from solcx.exceptions import SolcError

    solc = ensure_solc()
    try:
        out = solcx.compile_standard(std_input, solc_binary=solc, base_path=str(ROOT), allow_paths=[str(ROOT)])
    except SolcError as exc:
        raise CompileFailed(f"solc rejected the contracts: {str(exc).splitlines()[0]}") from exc
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileFailed("; ".join(e.get("formattedMessage", e["message"]).strip() for e in errors))
    artifacts: dict[str, dict[str, Any]] = {}
    for path, contracts in out["contracts"].items():
        if not path.startswith("contracts/"):
            continue
        for name, c in contracts.items():
            if name in DEPLOYABLE:
                artifacts[name] = {
                    "abi": c["abi"],
                    "bytecode": "0x" + c["evm"]["bytecode"]["object"],
                    "source": path,
                }
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    for name, art in artifacts.items():
        (BUILD_DIR / f"{name}.json").write_text(json.dumps(art, indent=1))
    index.write_text(
        json.dumps(
            {"fingerprint": fingerprint, "solc": SOLC_VERSION, "evm": EVM_VERSION, "contracts": sorted(artifacts)},
            indent=1,
        )
    )
    return artifacts


def load_artifacts() -> dict[str, dict[str, Any]]:
    """Artifacts of the current sources: read from the build folder, compiled first if stale."""
    return compile_contracts()


def _read_artifacts() -> dict[str, dict[str, Any]]:
    names = json.loads((BUILD_DIR / "index.json").read_text())["contracts"]
    return {n: json.loads((BUILD_DIR / f"{n}.json").read_text()) for n in names}


def main() -> None:
    arts = compile_contracts()
    print(f"compiled {len(arts)} contracts with solc {SOLC_VERSION} for EVM {EVM_VERSION} into {BUILD_DIR}")


if __name__ == "__main__":
    main()
