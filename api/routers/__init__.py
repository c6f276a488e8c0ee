"""One router module per resource. May import `ledger` and the shared `api` modules."""

from .. import segments  # noqa: F401  registers the `{name:gs1}` path convertor the routes use
