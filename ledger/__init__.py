"""traceledger: blockchain-backed traceability and settlement ledger (Python side).

Modules are small and named for their job: `toolchain` finds a Solidity compiler, `compiler`
builds the contracts, `chain` talks to an EVM node over JSON-RPC, `deploy` deploys the contract
set and writes the deployment manifest, `node` runs the local anvil node.
"""

__version__ = "0.1.0"
