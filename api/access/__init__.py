"""Who calls: sign-in and sessions (`auth`), the acting member's signer and deployment (`deps`),
the audit log of writes (`audit`), transactions members sign themselves (`transactions`).

May import `api.core` and `ledger`; no domain.
"""
