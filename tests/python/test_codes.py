"""Codes: GS1 Digital Link, Ed25519 signatures, the anchored commitment, rendering read back by a
real QR decoder (zbar), and the API's ownership rules."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from pyzbar.pyzbar import decode as zbar_decode

from ledger.trace import codes, digital_link
from ledger.trace.merkle import MerkleTree

from .helpers import login, make_client, new_gtin


def test_digital_link_round_trip_and_errors():
    link = digital_link.build("https://id.example.com", "6901234567892", "L/2026-A", "X1")
    assert link.uri() == "https://id.example.com/01/06901234567892/10/L%2F2026-A/21/X1"
    back = digital_link.parse(link.uri() + "?k=abc&s=def")
    assert (back.gtin, back.lot, back.serial, back.params) == (
        "06901234567892",
        "L/2026-A",
        "X1",
        {"k": "abc", "s": "def"},
    )
    with pytest.raises(digital_link.DigitalLinkError, match="expected 2"):
        digital_link.parse("https://id.example.com/01/06901234567891/10/L1/21/X1")
    with pytest.raises(digital_link.DigitalLinkError, match="not a GS1 Digital Link"):
        digital_link.parse("https://id.example.com/product/42")
    with pytest.raises(digital_link.DigitalLinkError, match="character set 82"):
        digital_link.build("https://x", "6901234567892", "L1", "é")


def test_signatures_detect_tampering(tmp_path):
    signer = codes.CodeSigner(tmp_path)
    iss = codes.issue(signer, "https://id.example.com", "6901234567892", "L1", 20)
    keys = {signer.kid: signer.public}
    assert len(set(iss.serials)) == 20 and all(len(s) == codes.SERIAL_LENGTH for s in iss.serials)
    assert all(codes.verify_signature(u, keys)[0] for u in iss.uris)
    uri = iss.uris[0]
    other_serial = uri.replace(f"/21/{iss.serials[0]}", f"/21/{iss.serials[1]}")
    assert codes.verify_signature(other_serial, keys) == (False, "signature does not match the code")
    sig = parse_qs(urlsplit(uri).query)["s"][0]
    forged = uri.replace(sig, sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB"))
    assert codes.verify_signature(forged, keys)[0] is False
    assert codes.verify_signature(uri.split("?")[0], keys)[1] == "the code carries no signature (parameters k and s)"
    rotated = codes.CodeSigner(tmp_path / "next")
    assert codes.verify_signature(uri, {rotated.kid: rotated.public})[1] == f"unknown signing key {signer.kid}"
    # the key survives a restart of the signer
    assert codes.CodeSigner(tmp_path).kid == signer.kid


def test_png_decodes_with_zbar_and_svg_renders(tmp_path):
    signer = codes.CodeSigner(tmp_path)
    uri = codes.issue(signer, "https://id.example.com", "6901234567892", "L1", 1).uris[0]
    (decoded,) = zbar_decode(Image.open(io.BytesIO(codes.render_png(uri))))
    assert decoded.type == "QRCODE" and decoded.data.decode() == uri
    svg = codes.render_svg(uri)
    assert svg.startswith("<svg") and "<path" in svg


def test_label_sheet_codes_decode_when_printed(tmp_path):
    """The PDF as a printer sees it: rasterised by Ghostscript at 200 dpi, every label decodes."""
    gs = shutil.which("gs")
    if gs is None:
        pytest.fail("Ghostscript is not installed: `make test` installs it (apt-get install ghostscript)")
    signer = codes.CodeSigner(tmp_path)
    uris = codes.issue(signer, "https://id.example.com", "6901234567892", "L1", 5).uris
    pdf = tmp_path / "labels.pdf"
    pdf.write_bytes(codes.render_label_sheet([(u.split("/21/")[1].split("?")[0], u) for u in uris], "Tea L1"))
    png = tmp_path / "page.png"
    raster = [gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pnggray", "-r200", "-dFirstPage=1", "-dLastPage=1"]
    subprocess.run([*raster, f"-sOutputFile={png}", str(pdf)], check=True, timeout=60)
    found = {d.data.decode() for d in zbar_decode(Image.open(png)) if d.type == "QRCODE"}
    assert found == set(uris)


@pytest.fixture
def merchant_batch(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path)
    a = login(c, members["merchant_a"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Longjing tea"}, headers=a).status_code == 201
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": "LJ-01"}, headers=a).status_code == 201
    return c, a, gtin


def test_issue_anchor_render_and_verify_against_the_chain(merchant_batch, deployment, members):
    c, a, gtin = merchant_batch
    dep, _ = deployment
    r = c.post(f"/v1/batches/{gtin}/LJ-01/codes", json={"count": 50}, headers=a)
    assert r.status_code == 201, r.text
    issue = r.json()
    rows = list(csv.DictReader(io.StringIO(c.get(issue["csv_url"], headers=a).text)))
    assert len(rows) == 50

    # the chain holds the root, its size, its submitter and the public key: nothing else needed
    prov = dep.contract("Provenance")
    submitter, _, count = prov.functions.anchorOf(bytes.fromhex(issue["root"][2:])).call()
    assert (submitter, count) == (members["merchant_a"].address, 50)
    (event,) = prov.events.RootAnchored().get_logs(from_block=issue["block_number"], to_block=issue["block_number"])
    anchor_uri = event["args"]["uri"]
    assert anchor_uri == f"codes:{gtin}/LJ-01?k={issue['kid']}&pk={issue['public_key']}"
    public = codes.public_key_from_b64(parse_qs(anchor_uri.split("?")[1])["pk"][0])

    # scan a code: decode the rendered PNG, check its signature and its membership in the root
    serial = rows[17]["serial"]
    png = c.get(f"/v1/batches/{gtin}/LJ-01/codes/{serial}.png", headers=a)
    assert png.headers["content-type"] == "image/png"
    (decoded,) = zbar_decode(Image.open(io.BytesIO(png.content)))
    uri = decoded.data.decode()
    assert uri == rows[17]["uri"] and uri.startswith("http://127.0.0.1:8000/01/")
    assert codes.verify_signature(uri, {issue["kid"]: public}) == (True, f"signed by key {issue['kid']}")
    leaves = [codes.code_leaf(digital_link.parse(row["uri"])) for row in rows]
    tree = MerkleTree(leaves)
    assert "0x" + tree.root.hex() == issue["root"]
    assert prov.functions.verifyEvent(tree.root, leaves[17], tree.proof(17)).call()
    forged_leaf = codes.code_leaf(digital_link.parse(uri.replace(serial, "ZZZZZZZZZZZZ")))
    assert not prov.functions.verifyEvent(tree.root, forged_leaf, tree.proof(17)).call()

    svg = c.get(f"/v1/batches/{gtin}/LJ-01/codes/{serial}.svg", headers=a)
    assert svg.headers["content-type"] == "image/svg+xml" and svg.text.startswith("<svg")
    pdf = c.get(issue["labels_url"], headers=a)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    part = c.get(issue["labels_url"], params={"offset": 24, "limit": 24}, headers=a)
    pages = lambda pdf_bytes: len(re.findall(rb"/Type /Page[^s]", pdf_bytes))  # noqa: E731
    assert part.status_code == 200 and pages(part.content) == 1 and pages(pdf.content) == 3
    assert c.get(issue["labels_url"], params={"limit": 481}, headers=a).status_code == 422


def test_codes_belong_to_the_batch_merchant(merchant_batch, members):
    c, a, gtin = merchant_batch
    b = login(c, members["merchant_b"])
    issue = c.post(f"/v1/batches/{gtin}/LJ-01/codes", json={"count": 3}, headers=a).json()
    serial = issue["sample"][0].split("/21/")[1].split("?")[0]
    for r in (
        c.post(f"/v1/batches/{gtin}/LJ-01/codes", json={"count": 3}, headers=b),
        c.get(issue["csv_url"], headers=b),
        c.get(issue["labels_url"], headers=b),
        c.get(f"/v1/batches/{gtin}/LJ-01/codes/{serial}.png", headers=b),
    ):
        assert r.status_code == 404
    assert c.get(issue["csv_url"], headers=login(c, members["auditor"])).status_code == 200
    assert (
        c.post(f"/v1/batches/{gtin}/LJ-01/codes", json={"count": 3}, headers=login(c, members["producer"])).status_code
        == 403
    )
    for bad in (0, 100_001, 2.5, "10"):
        r = c.post(f"/v1/batches/{gtin}/LJ-01/codes", json={"count": bad}, headers=a)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.count"
    assert c.post(f"/v1/batches/{gtin}/NOPE/codes", json={"count": 1}, headers=a).status_code == 404


def test_rotations_at_once_in_several_processes_retire_each_key_under_its_own_id(tmp_path):
    """Each API worker holds its own signer: rotations at once retired another worker's key under
    this one's id, and keys made meanwhile were never current nor kept. One at a time now, each
    retiring the key current when it runs: every key made is current or retired, under its id."""
    import threading

    from ledger.trace.code_keys import CodeSigner, _load, _passphrase, key_id

    directory = tmp_path / "keys" / "codes"
    first = CodeSigner(directory).kid
    workers = [CodeSigner(directory) for _ in range(8)]  # each loaded before any rotation
    made: list[str] = []
    threads = [threading.Thread(target=lambda w=w: made.append(w.rotate().kid)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    retired = {p.stem for p in (directory / "retired").glob("*.pem")}
    current = CodeSigner(directory).kid
    assert len(set(made)) == 8 and retired | {current} == {first, *made} and current not in retired
    for p in (directory / "retired").glob("*.pem"):  # each file holds the key its name says
        assert key_id(_load(p.read_bytes(), _passphrase(directory)).public_key()) == p.stem
