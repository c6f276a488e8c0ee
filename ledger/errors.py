"""Errors the ledger reports to people: each message is one clear line."""


class LedgerError(Exception):
    """Base of every error traceledger raises on purpose."""


class CompilerNotFound(LedgerError):
    """No Solidity compiler of the pinned version could be found or installed."""


class CompileFailed(LedgerError):
    """The compiler ran and rejected the sources."""


class NodeUnavailable(LedgerError):
    """The EVM node did not answer JSON-RPC."""


class ManifestMismatch(LedgerError):
    """The deployment manifest belongs to another chain or its contracts are gone."""


class ManifestMissing(LedgerError):
    """No deployment manifest has been written yet."""


class Conflict(LedgerError):
    """The request clashes with what exists (a duplicate id, a state that forbids it). `code` names
    the clash for a client that says it in its own words (the API's `error`; "conflict" by default)."""

    def __init__(self, *args: object, code: str = "conflict") -> None:
        super().__init__(*args)
        self.code = code


class NotFound(LedgerError):
    """The named object does not exist (or is not the caller's to see)."""


class Forbidden(LedgerError):
    """The caller may not do this to this object (not its carrier, not its merchant, ...)."""


class InvalidInput(LedgerError):
    """A value the caller sent cannot be used (a refund above what remains, ...)."""
