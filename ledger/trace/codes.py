"""Serialized product codes: unguessable serials, signed GS1 Digital Link URIs, and a Merkle
commitment to the issued set that is anchored on chain so no code can be added unseen later.

- Serials: 12 characters of Crockford base32 from the OS's CSPRNG (60 bits).
- Signature: Ed25519 over the key path `01/<gtin>/10/<lot>/21/<serial>` (not the host, so the
  resolver may move), sent as query parameters `k` (key id) and `s` (base64url signature).
  The key id is the first 16 hex digits of SHA-256 of the raw public key, so keys can rotate.
- Commitment: leaf per code `keccak256(key_path)`, a `ledger.merkle.MerkleTree` over the issue's
  leaves in serial order, anchored with `Provenance.anchor(root, count, "codes:<gtin>/<lot, percent-encoded>?k=...")`.

Issuing is separate from rendering: `issue()` returns strings; `render_*` draw one code or a sheet.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote

import qrcode
import qrcode.constants
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import csv_cells
from ledger.trace import digital_link
from ledger.trace.code_keys import (  # noqa: F401 - re-exported: the signer and keys are part of codes
    CodeSigner,
    _b64,
    _unb64,
    key_hash,
    key_id,
    public_key_b64,
    public_key_from_b64,
)
from ledger.trace.merkle import MerkleTree

try:
    from sha3 import keccak_256 as _keccak

    def _leaf_source(key_path: str) -> bytes:
        return _keccak(key_path.encode()).digest()
except ImportError:  # pragma: no cover
    from eth_utils import keccak

    def _leaf_source(key_path: str) -> bytes:
        return keccak(text=key_path)


_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
SERIAL_LENGTH = 12


@dataclass(frozen=True)
class Issue:
    gtin: str
    lot: str
    serials: list[str]
    uris: list[str]
    leaves: list[bytes]
    kid: str

    def tree(self) -> MerkleTree:
        return MerkleTree(self.leaves)

    public_key: str  # base64url raw Ed25519 public key

    def anchor_uri(self) -> str:
        """What goes on chain with the root: the batch, the key id and the public key itself, so a
        verifier needs nothing but the chain to check a code's signature."""
        return f"codes:{self.gtin}/{quote(self.lot, safe='')}?k={self.kid}&pk={self.public_key}"


def new_serial() -> str:
    raw = int.from_bytes(secrets.token_bytes(8), "big")
    return "".join(_ALPHABET[(raw >> (5 * i)) & 31] for i in range(SERIAL_LENGTH))


def issue(signer: CodeSigner, resolver: str, gtin: str, lot: str, count: int) -> Issue:
    """`count` fresh signed codes for batch `lot` of `gtin`, sorted by serial."""
    base = digital_link.build(resolver, gtin, lot, "0")  # validates gtin and lot once
    path_head = base.key_path[: -len("0")]  # "01/<gtin>/10/<lot>/21/"
    serials = sorted({new_serial() for _ in range(count)})
    while len(serials) < count:  # a 60-bit collision inside one issue: draw again
        serials = sorted(set(serials) | {new_serial()})
    prefix = f"{resolver.rstrip('/')}/"
    uris, leaves = [], []
    for serial in serials:  # serials are base32: no percent-encoding needed
        key_path = path_head + serial
        uris.append(f"{prefix}{key_path}?k={signer.kid}&s={signer.sign(key_path)}")
        leaves.append(_leaf_source(key_path))
    return Issue(base.gtin, lot, serials, uris, leaves, signer.kid, public_key_b64(signer.public))


def code_leaf(link: digital_link.ItemLink) -> bytes:
    """The commitment leaf source of a code (before Merkle leaf hashing)."""
    return _leaf_source(link.key_path)


class SignatureCheck(NamedTuple):
    """A code's signature check: `code` names the outcome for translations (`signed`, `malformed`,
    `unsigned`, `unknown_key`, `bad_signature`), `args` fills its message, `reason` says it in English."""

    ok: bool
    code: str
    args: dict[str, str]
    reason: str


def check_signature(uri: str, public_keys: dict[str, Ed25519PublicKey]) -> SignatureCheck:
    """The signature parameters of `uri` checked under the known keys."""
    try:
        link = digital_link.parse(uri)
    except digital_link.DigitalLinkError as exc:
        return SignatureCheck(False, "malformed", {"detail": str(exc)}, str(exc))
    kid, sig = link.params.get("k"), link.params.get("s")
    if not kid or not sig:
        return SignatureCheck(False, "unsigned", {}, "the code carries no signature (parameters k and s)")
    public = public_keys.get(kid)
    if public is None:
        return SignatureCheck(False, "unknown_key", {"kid": kid}, f"unknown signing key {kid}")
    try:
        public.verify(_unb64(sig), link.key_path.encode())
    except (InvalidSignature, ValueError):
        return SignatureCheck(False, "bad_signature", {}, "signature does not match the code")
    return SignatureCheck(True, "signed", {"kid": kid}, f"signed by key {kid}")


def verify_signature(uri: str, public_keys: dict[str, Ed25519PublicKey]) -> tuple[bool, str]:
    """(ok, reason in English) for the signature parameters of `uri` under the known keys."""
    c = check_signature(uri, public_keys)
    return c.ok, c.reason


# -- rendering ------------------------------------------------------------------------------


def render_png(uri: str, box_size: int = 8) -> bytes:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    qr.add_data(uri)
    out = io.BytesIO()
    qr.make_image().save(out, format="PNG")
    return out.getvalue()


def render_svg(uri: str) -> str:
    import qrcode.image.svg

    img = qrcode.make(
        uri, image_factory=qrcode.image.svg.SvgPathImage, error_correction=qrcode.constants.ERROR_CORRECT_M
    )
    return img.to_string(encoding="unicode")


def render_csv(rows: list[tuple[str, str]]) -> str:
    """Serial and URI per line, for label printers."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["serial", "uri"])
    w.writerows(csv_cells.row(r) for r in rows)
    return out.getvalue()


def qr_modules(uri: str) -> list[list[bool]]:
    """The QR matrix of `uri` (level M, no quiet zone). The mask is fixed: searching all eight for
    the best score costs ~6x the time, and every decoder reads every mask."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=2)
    qr.add_data(uri)
    qr.make(fit=True)
    return qr.get_matrix()


def qr_image(matrix: list[list[bool]]):  # type: ignore[no-untyped-def]
    """The matrix as a 1-bit image, one pixel a module (a PDF scales it without smoothing)."""
    from PIL import Image

    n = len(matrix)
    return Image.frombytes("L", (n, n), bytes(0 if v else 255 for row in matrix for v in row)).convert("1")


def render_label_sheet(rows: list[tuple[str, str]], title: str) -> bytes:
    """A printable A4 PDF: 4 x 6 labels a page, each a QR code with its serial beneath."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(title)
    width, height = A4
    cols, rows_per_page, cell_w, cell_h, size = 4, 6, 48 * mm, 45 * mm, 34 * mm
    left, top = (width - cols * cell_w) / 2, height - 12 * mm
    for i, (serial, uri) in enumerate(rows):
        slot = i % (cols * rows_per_page)
        if slot == 0 and i:
            pdf.showPage()
        if slot == 0:
            pdf.setFont("Helvetica", 8)
            pdf.drawString(left, height - 8 * mm, title)
        x = left + (slot % cols) * cell_w + (cell_w - size) / 2
        y = top - (slot // cols + 1) * cell_h + 8 * mm
        pdf.drawImage(ImageReader(qr_image(qr_modules(uri))), x, y, size, size)
        pdf.setFont("Courier", 8)
        pdf.drawCentredString(x + size / 2, y - 3 * mm, serial)
    pdf.showPage()
    pdf.save()
    return out.getvalue()
