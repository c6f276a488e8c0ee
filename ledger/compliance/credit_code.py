"""GB 32100-2015 unified social credit codes (统一社会信用代码): 18 characters, the organisation
code of GB 11714 in positions 9-17 (its own check character last) and a final GB 32100 check.

`check(code, pilots)` names what failed. Some early pilot-region codes are legally valid yet fail
the final check: a code on the pilot allow-list (governance extends it) is accepted and reported as
such, never rejected silently and never passed as if it were ordinary."""

from __future__ import annotations

from dataclasses import dataclass

#: GB 32100's 31 characters (no I, O, S, V, Z), each worth its index
CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: GB 11714 organisation code weights of its 8 body characters
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
LENGTH = 18


class CreditCodeError(ValueError):
    """A code that is not a valid unified social credit code; `failed` names the rule."""

    def __init__(self, code: str, failed: str, detail: str):
        super().__init__(f"{code!r}: {detail}")
        self.code, self.failed, self.detail = code, failed, detail


@dataclass(frozen=True)
class CreditCode:
    code: str
    #: "valid", or "pilot": on the allow-list although its final GB 32100 check fails
    status: str
    organisation_code: str
    division: str  # the administrative division code (positions 3-8)


def gb32100_check_char(first17: str) -> str:
    total = sum(CHARS.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARS[(31 - total % 31) % 31]


def _org_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def gb11714_check_char(body8: str) -> str:
    total = sum(_org_value(c) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


def check(code: object, pilots: frozenset[str] | set[str] = frozenset()) -> CreditCode:
    """The code, checked; raises CreditCodeError naming what failed (format, organisation code
    check, final check)."""
    if not isinstance(code, str):
        raise CreditCodeError(str(code), "format", "a credit code is a string of 18 characters")
    c = code.strip().upper()
    if len(c) != LENGTH:
        raise CreditCodeError(code, "length", f"{len(c)} characters; a unified social credit code has 18")
    bad = sorted({x for x in c if x not in CHARS})
    if bad:
        raise CreditCodeError(
            code, "characters", f"{''.join(bad)} not among GB 32100's characters (0-9 A-Y without I O S V Z)"
        )
    if not c[2:8].isdigit():
        raise CreditCodeError(code, "division", "positions 3-8 (administrative division code) must be digits")
    org = c[8:17]
    expected_org = gb11714_check_char(org[:8])
    if org[8] != expected_org:
        raise CreditCodeError(
            code,
            "organisation_check",
            f"organisation code {org} fails its GB 11714 check: ends in {org[8]}, should be {expected_org}",
        )
    expected = gb32100_check_char(c[:17])
    if c[17] != expected:
        if c in pilots:
            return CreditCode(c, "pilot", org, c[2:8])
        raise CreditCodeError(code, "final_check", f"fails the GB 32100 check: ends in {c[17]}, should be {expected}")
    return CreditCode(c, "valid", org, c[2:8])
