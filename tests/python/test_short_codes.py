"""Short codes (`ledger.trace.short_codes`): printed at QR version 5 instead of 9, and a scan of
one proves what a scan of the long code does; made-up and tampered short codes fail."""

from __future__ import annotations

import csv
import io

import pytest
import qrcode
import qrcode.constants
from PIL import Image
from pyzbar.pyzbar import decode as zbar_decode

from ledger.chain.indexer import Indexer
from ledger.trace import codes, digital_link, short_codes
from ledger.trace.verify import verify_code

from .helpers import login, make_client, new_gtin

DOMAIN_20 = "https://id.example.cn"  # a typical resolver: 21 characters with the scheme


def qr_version(uri: str) -> int:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(uri)
    qr.make(fit=True)
    return qr.version


@pytest.mark.parametrize("lot", ["L1", "LOT-2026-07", "lj-2026"])
def test_short_codes_print_at_version_5_and_decode(tmp_path, lot):
    signer = codes.CodeSigner(tmp_path)
    iss = codes.issue(signer, DOMAIN_20, "6901234567892", lot, 20)
    for long_uri in iss.uris:
        short = short_codes.short_uri(long_uri)
        assert short == f"{long_uri.split('?')[0]}?t={short_codes.tag_of(digital_link.parse(long_uri).params['s'])}"
        assert len(digital_link.parse(short).params["t"]) == short_codes.TAG_CHARS
        assert qr_version(long_uri) == 9 and qr_version(short) <= 5, (len(long_uri), len(short))
        assert len(codes.qr_modules(short)) <= 37  # the labels' matrix: version 5 is 37 x 37 modules
    # what a phone reads off the printed image is the short URI itself
    short = short_codes.short_uri(iss.uris[0])
    (decoded,) = zbar_decode(Image.open(io.BytesIO(codes.render_png(short))))
    assert decoded.type == "QRCODE" and decoded.data.decode() == short


def test_a_short_code_is_checked_by_its_stored_signature(tmp_path):
    signer = codes.CodeSigner(tmp_path)
    iss = codes.issue(signer, DOMAIN_20, "6901234567892", "L1", 2)
    long_uri, other = iss.uris
    short = digital_link.parse(short_codes.short_uri(long_uri))
    assert short_codes.expand(short, long_uri) == (long_uri, None)
    tag = short.params["t"]
    flipped = tag[:-1] + ("A" if tag[-1] != "A" else "B")
    for link, stored in (
        (digital_link.parse(f"{DOMAIN_20}/{short.key_path}?t={flipped}"), long_uri),  # tampered tag
        (short, other),  # the tag of one code on another serial
        (short, None),  # a serial never issued
    ):
        signed, failed = short_codes.expand(link, stored)
        assert signed is None and failed.code == "bad_tag" and not failed.ok
    mixed = digital_link.parse(f"{long_uri}&t={tag}")
    assert short_codes.expand(mixed, long_uri)[1].code == "malformed"


@pytest.fixture
def short_issue(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path)
    a = login(c, members["merchant_a"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Longjing tea"}, headers=a).status_code == 201
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": "LJ-02"}, headers=a).status_code == 201
    r = c.post(f"/v1/batches/{gtin}/LJ-02/codes", json={"count": 6, "short": True}, headers=a)
    assert r.status_code == 201, r.text
    Indexer(deployment[0], c.app.state.services.engine, confirmations=0).run()
    return c, a, gtin, r.json()


def scan(c, uri: str) -> dict:
    r = c.get("/" + uri.split("://", 1)[1].split("/", 1)[1], headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def test_short_codes_issued_scanned_and_verified_against_the_chain(short_issue, deployment, members):
    c, a, gtin, issue = short_issue
    assert issue["short"] is True and all("?t=" in u and "&s=" not in u for u in issue["sample"])
    rows = list(csv.DictReader(io.StringIO(c.get(issue["csv_url"], headers=a).text)))
    assert len(rows) == 6 and all(r["uri"].endswith("?t=" + digital_link.parse(r["uri"]).params["t"]) for r in rows)
    png = c.get(f"/v1/batches/{gtin}/LJ-02/codes/{rows[2]['serial']}.png", headers=a)
    (decoded,) = zbar_decode(Image.open(io.BytesIO(png.content)))
    uri = decoded.data.decode()
    assert uri == rows[2]["uri"]

    genuine = scan(c, uri)
    assert (genuine["verdict"], genuine["signature"]["ok"]) == ("genuine", True)
    assert genuine["proof"]["kid"] == issue["kid"] and genuine["proof"]["root"] == issue["root"]
    assert "?t=" in c.get("/" + uri.split("/", 3)[3], headers={"Accept": "text/html"}).text  # the language switch
    linkset = c.get("/" + uri.split("/", 3)[3], headers={"Accept": "application/linkset+json"}).json()["linkset"]
    assert linkset[-1]["https://ref.gs1.org/voc/verificationService"][0]["href"].endswith(uri.split("/", 3)[3])

    tag = digital_link.parse(uri).params["t"]
    serial = rows[2]["serial"]
    tampered = uri.replace(f"t={tag}", "t=" + tag[:-1] + ("A" if tag[-1] != "A" else "B"))
    made_up = uri.replace(f"/21/{serial}", "/21/ZZZZZZZZZZZZ")
    moved = uri.replace(f"/21/{serial}", f"/21/{rows[3]['serial']}")  # a real tag on another issued serial
    for bad in (tampered, made_up, moved):
        d = scan(c, bad)
        assert (d["verdict"], d["reason_code"]) == ("forged", "bad_tag"), bad
        assert "proof" not in d and "merchant" not in d

    # `ledger verify`'s checks, from the chain: the resolver gives the signature only for the tag
    def fetch(link):
        r = c.get(f"/v1/proofs/{link.key_path}", params={"t": link.params["t"]} if "t" in link.params else None)
        assert r.status_code == 200, r.text
        return r.json()

    checks = verify_code(deployment[0], uri, fetch)
    assert all(x.ok for x in checks), checks
    assert "short code's tag is of its signature" in [x.name for x in checks]
    assert c.get(f"/v1/proofs/01/{gtin}/10/LJ-02/21/{serial}", params={"t": tag[::-1]}).status_code == 404
    assert "s" not in c.get(f"/v1/proofs/01/{gtin}/10/LJ-02/21/{serial}").json()  # no tag, no signature
    lying = {x.name: x.ok for x in verify_code(deployment[0], tampered, lambda link: fetch(digital_link.parse(uri)))}
    assert lying["short code's tag is of its signature"] is False
    # the auditors' check, as `ledger verify` does it
    auditor = login(c, members["auditor"])
    assert c.post("/v1/audit/verify/code", json={"uri": uri}, headers=auditor).json()["ok"] is True
    assert c.post("/v1/audit/verify/code", json={"uri": tampered}, headers=auditor).json()["ok"] is False


def test_issuing_long_codes_stays_the_default(short_issue):
    c, a, gtin, _ = short_issue
    r = c.post(f"/v1/batches/{gtin}/LJ-02/codes", json={"count": 1}, headers=a)
    assert r.status_code == 201 and r.json()["short"] is False and "&s=" in r.json()["sample"][0]
    assert scan(c, r.json()["sample"][0])["verdict"] == "genuine"
    bad = c.post(f"/v1/batches/{gtin}/LJ-02/codes", json={"count": 1, "short": "yes"}, headers=a)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body.short"
