"""Extract the CBV short-name vocabularies from GS1's EPCIS 2.0 JSON-LD context.

    python tools/extract_cbv_vocab.py epcis-context.jsonld > ledger/trace/epcis/cbv_vocab.json

The context (https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld) maps the bare
names other systems write (`shipping`, `in_transit`, `po`, `Temperature`) to CBV 2.0 web
vocabulary URIs through type-scoped contexts. Hash IDs are computed over the full URIs, so the
hasher needs these maps; they are generated from the published context, never typed by hand.
"""

import json
import sys


def scoped_maps(ctx, path, prefixes, out):
    if isinstance(ctx, list):
        for c in ctx:
            scoped_maps(c, path, prefixes, out)
        return
    if not isinstance(ctx, dict):
        return
    terms = {}
    for k, v in ctx.items():
        if isinstance(v, str) and ":" in v and v.split(":", 1)[0] in ("cbv", "gs1"):
            p, rest = v.split(":", 1)
            terms[k] = prefixes[p] + rest
    if terms and path:
        out.setdefault(path, {}).update(terms)
    for k, v in ctx.items():
        if isinstance(v, dict) and "@context" in v:
            scoped_maps(v["@context"], f"{path}/{k}" if path else k, prefixes, out)


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        ctx = json.load(f)["@context"]
    prefixes = {"cbv": ctx["cbv"], "gs1": ctx["gs1"]}
    out: dict = {}
    scoped_maps(ctx, "", prefixes, out)
    json.dump({"prefixes": prefixes, "terms": dict(sorted(out.items()))}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
