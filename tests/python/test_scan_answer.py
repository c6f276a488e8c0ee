"""The scan's answer (ledger.flows.scan_answer): the consumer's page and the JSON answer of the same
code agree on the verdict and the merchant's deposit, whichever door the scan came through (the
scan route, or the GS1 resolver in front of it); the verdicts' order."""

from __future__ import annotations

import re

from ledger.flows.scan_answer import SUSPICIOUS_SCANS, verdict
from ledger.i18n import yuan
from ledger.trace.codes import SignatureCheck

from .test_resolver import path_of, scan, scene  # noqa: F401  (`scene` is a fixture)


def _page(c, uri: str):
    r = c.get("/" + path_of(uri) + ("&" if "?" in uri else "?") + "lang=en", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), r.text
    return re.search(r'data-verdict="(\w+)"', r.text).group(1), r.text


def test_page_and_json_agree_on_verdict_and_deposit_through_both_doors(scene):  # noqa: F811
    c, _, _, issue, _ = scene
    good = issue["sample"][0]
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    unknown = good.replace("/21/", "/21/X")
    for uri, expected in ((good, "genuine"), (tampered, "forged"), (unknown, "forged")):
        data = scan(c, uri).json()
        shown, page = _page(c, uri)
        assert data["verdict"] == shown, (uri, data["verdict"], shown)
        if expected == "genuine":
            assert shown == "genuine"
            d = data["merchant"]["deposit"]
            assert d is not None and data["merchant"]["deposit_unavailable"] is None
            section = re.search(r'<section id="deposit">.*?</section>', page, re.S).group(0)
            assert yuan(d["balance_fen"], "en") in section and yuan(d["frozen_fen"], "en") in section
    # the GS1 resolver's door: the same code with a trailing slash is taken by the resolver in front,
    # which opens the scan in place
    path, query = path_of(good).split("?", 1)
    via_front = c.get(f"/{path}/?{query}", headers={"Accept": "application/json"})
    assert via_front.status_code == 200, via_front.text
    direct = scan(c, good).json()
    assert via_front.json()["verdict"] == direct["verdict"] == "genuine"
    assert via_front.json()["merchant"] == direct["merchant"]


def test_verdicts_in_their_order():
    good, bad = SignatureCheck(True, "ok", {}, "ok"), SignatureCheck(False, "bad_signature", {}, "does not match")
    recalled = {"recalled": True, "recall_reason": "mould"}
    fine = {"recalled": False, "recall_reason": None}
    assert verdict(bad, recalled, 99, 9)[0] == "forged"  # a forged code says nothing of the batch
    assert verdict(good, None, 99, 9)[0] == "unknown"
    assert verdict(good, recalled, 99, 9) == ("recalled", ("recalled", {"why": "mould"}, "mould"))
    assert verdict(good, fine, SUSPICIOUS_SCANS, 0)[0] == "suspicious"
    assert verdict(good, fine, SUSPICIOUS_SCANS - 1, 1)[0] == "genuine"
