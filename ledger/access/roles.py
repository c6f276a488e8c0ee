"""Member roles, as the bit flags of `contracts/Roles.sol`."""

from __future__ import annotations

from enum import IntFlag


class Role(IntFlag):
    OPERATOR = 1 << 0
    MERCHANT = 1 << 1
    PRODUCER = 1 << 2
    LOGISTICS = 1 << 3
    INSPECTOR = 1 << 4
    AUDITOR = 1 << 5
    ARBITER = 1 << 6
    ISSUER = 1 << 7
    #: not a Membership role: a governor of the `Governance` council (read from `isGovernor`)
    GOVERNOR = 1 << 8


ALL_ROLES = Role((1 << 8) - 1)  # the roles Membership holds


def role_names(flags: int) -> list[str]:
    """Names of the roles set in `flags`, lower case, in bit order."""
    return [r.name.lower() for r in Role if flags & r and r.name]
