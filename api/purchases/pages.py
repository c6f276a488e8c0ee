"""The shopper's page ("my purchases") and the files the browser proves with: our own modules,
circomlibjs's Poseidon and the snarkjs and ethers bundles from node_modules, and the circuit's
artefacts from build/zk. Only these names are served."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from markupsafe import escape

from ledger.i18n import catalog, negotiate
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
#: a rewritten file's tag names the rewrite too: changing `_IMPORTS` alone changes what is served
_REWRITE_TAG = "-" + hashlib.sha256(repr(sorted(_IMPORTS.items())).encode()).hexdigest()[:8]
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
def static(name: str, request: Request) -> Response:
    """A file as it is (streamed from disk: the 3.3 MB proving key was read whole into memory for
    every request, 200 at once grew a worker by 65 MB, outside probe), with an ETag a browser
    revalidates by (304)."""
    path, media, rewrite = _file(name)
    stat = path.stat()
    tag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}{_REWRITE_TAG if rewrite else ""}"'
    headers = {"Cache-Control": "public, max-age=3600", "ETag": tag}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    if not rewrite:
        return FileResponse(path, media_type=media, headers=headers)
    text = path.read_text()
    for a, b in _IMPORTS.items():
        text = text.replace(a, b)
    return Response(text.encode(), media_type=media, headers=headers)


def page(lang: str) -> str:
    """The page in one language, with a switch to the other; the script's words ride in a JSON
    block (data, not code: the CSP runs only our own files)."""
    t = catalog("purchases", lang)
    other = "en" if lang == "zh" else "zh"
    words = json.dumps(t, ensure_ascii=False).replace("<", "\\u003c")
    return (
        f'<!doctype html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(t['title'])}</title>"
        '<link rel="stylesheet" href="static/mine.css">'
        '<script src="static/snarkjs.min.js"></script><script src="static/ethers.umd.min.js"></script>'
        '<script type="module" src="static/mine.js"></script>'
        f'</head><body data-lang="{lang}"><main>'
        f'<a class="lang" href="mine?lang={other}" lang="{other}">{escape(t["switch"])}</a>'
        f"<h1>{escape(t['title'])}</h1><p>{escape(t['lead'])}</p>"
        f'<p id="empty">{escape(t["empty"])}</p><ul id="purchases"></ul>'
        f'<p class="note">{escape(t["kept_here"])}</p>'
        f'</main><script type="application/json" id="i18n">{words}</script></body></html>'
    )


@router.get("/mine", response_class=HTMLResponse)
def mine(request: Request, lang: str | None = Query(None, pattern="^(zh|en)$")) -> HTMLResponse:
    """The shopper's purchases, kept in this browser (a receipt link's fragment adds one), in the
    language asked for (`?lang=`) or the browser's."""
    language = negotiate(lang, request.headers.get("accept-language"))
    headers = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer", "Vary": "Accept-Language"}
    return HTMLResponse(page(language), headers=headers)
