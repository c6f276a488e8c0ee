"""The shopper's page ("my purchases") and the files the browser proves with: our own modules,
circomlibjs's Poseidon and the snarkjs and ethers bundles from node_modules, and the circuit's
artefacts from build/zk. Only these names are served."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ledger.paths import node_modules
from ledger.privacy.build import artefact

from ..core.errors import not_found

# included by the purchases router, under its prefix /v1/purchases
router = APIRouter(tags=["purchases"], include_in_schema=False)

HERE = Path(__file__).parent / "static"
JS = "text/javascript; charset=utf-8"
#: circomlibjs's modules import bare names: pointed at the files served beside them
_IMPORTS = {
    'from "ffjavascript"': 'from "./ffjavascript.js"',
    'import assert from "assert";': 'const assert = (c, m) => { if (!c) throw new Error(m || "assertion"); };',
}
CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; worker-src 'self' blob:; "
    "style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _file(name: str) -> tuple[Path, str, bool]:
    nm = node_modules()
    files = {
        "shopper.js": (HERE / "shopper.js", JS, False),
        "treepath.js": (HERE / "treepath.js", JS, False),
        "mine.js": (HERE / "mine.js", JS, False),
        "mine.css": (HERE / "mine.css", "text/css; charset=utf-8", False),
        "poseidon.js": (nm / "circomlibjs" / "src" / "poseidon_reference.js", JS, True),
        "poseidon_constants.js": (nm / "circomlibjs" / "src" / "poseidon_constants.js", JS, False),
        "ffjavascript.js": (nm / "ffjavascript" / "build" / "browser.esm.js", JS, False),
        "snarkjs.min.js": (nm / "snarkjs" / "build" / "snarkjs.min.js", JS, False),
        "ethers.umd.min.js": (nm / "ethers" / "dist" / "ethers.umd.min.js", JS, False),
        "qrcode.mjs": (nm / "qrcode-generator" / "dist" / "qrcode.mjs", JS, False),
    }
    if name in files:
        return files[name]
    if name == "purchase.wasm":
        return artefact("wasm"), "application/wasm", False
    if name == "purchase.zkey":
        return artefact("zkey"), "application/octet-stream", False
    raise not_found(f"no file {name}")


@router.get("/static/{name}")
def static(name: str) -> Response:
    path, media, rewrite = _file(name)
    body = path.read_bytes()
    if rewrite:
        text = body.decode()
        for a, b in _IMPORTS.items():
            text = text.replace(a, b)
        body = text.encode()
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=3600"})


PAGE = """<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>我的购买 / My purchases</title>
<link rel="stylesheet" href="static/mine.css">
<script src="static/snarkjs.min.js"></script>
<script src="static/ethers.umd.min.js"></script>
<script type="module" src="static/mine.js"></script>
</head><body><main>
<h1><span lang="zh">我的购买</span> / <span lang="en">My purchases</span></h1>
<p><span lang="zh">证明在本浏览器中生成：平台看不到是哪一笔订单。</span>
<span lang="en">Proofs are made in this browser: the platform never learns which order is yours.</span></p>
<p id="empty"><span lang="zh">此浏览器中没有购买记录。购买记录来自订单确认中的“购买凭证”链接：
请在这个浏览器里打开它，之后即可在此匿名证明购买、发表评价。</span>
<span lang="en">No purchases kept in this browser. A purchase comes here from the receipt link in your
order confirmation: open that link in this browser, then prove the purchase and review it here, anonymously.</span></p>
<ul id="purchases"></ul>
</main></body></html>
"""


@router.get("/mine", response_class=HTMLResponse)
def mine() -> HTMLResponse:
    """The shopper's purchases, kept in this browser (a receipt link's fragment adds one)."""
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"})
