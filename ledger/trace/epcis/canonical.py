"""Canonical values for EPCIS event hash IDs (CBV 2.0 section 8.9): CBV short names and old URNs as
web vocabulary URIs, timestamps in UTC with milliseconds, numbers without redundant zeros, EPC
URNs and Digital Link URIs as canonical GS1 Digital Link URIs, and the prefixes a document's
JSON-LD `@context` declares for its extensions.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from importlib.resources import files

from .identifiers import canonical

_CBV_URNS = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)
VOCABULARY_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")


@cache
def vocabulary() -> dict:
    """CBV short names per field, generated from GS1's EPCIS 2.0 JSON-LD context."""
    return json.loads((files("ledger.trace.epcis") / "cbv_vocab.json").read_text(encoding="utf-8"))


def namespaces_of(context) -> dict[str, str]:
    """Prefixes a JSON-LD `@context` declares for extension names like `example:myField`, as
    `{"example": "{http://ns.example.com/epcis/}"}`.

    A context is a remote context's URL, an object, or a list of both. In an object a term maps to
    an IRI directly (`"example": "http://ns.example.com/epcis/"`) or through a term definition
    (`"example": {"@id": "http://...", "@prefix": true}`). Keywords (`@vocab`, `@version`, ...),
    terms that are compact IRIs themselves (`"rail:axleCount": {"@type": "xsd:integer"}` types a
    field, it declares no prefix), definitions without `@id` (`@type`, `@container`, a scoped
    `@context` only), and remote contexts declare none; `null` undefines a term declared before.
    """
    out: dict[str, str] = {}
    for c in context if isinstance(context, list) else [context]:
        if not isinstance(c, dict):
            continue
        for term, definition in c.items():
            if not isinstance(term, str) or term.startswith("@") or ":" in term:
                continue
            iri = definition.get("@id") if isinstance(definition, dict) else definition
            if isinstance(iri, str) and iri and not iri.startswith("@"):
                out[term] = "{" + iri + "}"
            elif definition is None:
                out.pop(term, None)
    return out


# --- short names -> web vocabulary -------------------------------------------------------------


def _typed_values(event: dict):
    """(vocabulary, value) for each field whose value the JSON-LD context expands as a CBV term."""

    def each(value):
        return value if isinstance(value, list) else [value]

    for key, voc in (("bizStep", "bizStep"), ("disposition", "disposition")):
        if key in event:
            yield voc, event[key]
    pd = event.get("persistentDisposition")
    if isinstance(pd, dict):
        for key in ("set", "unset"):
            for v in each(pd.get(key, [])):
                yield "persistentDisposition", v
    for lst in ("bizTransactionList", "sourceList", "destinationList"):
        for item in each(event.get(lst, [])):
            if isinstance(item, dict) and "type" in item:
                yield f"{lst}/type", item["type"]
    for element in each(event.get("sensorElementList", [])):
        for report in each(element.get("sensorReport", []) if isinstance(element, dict) else []):
            if isinstance(report, dict):
                for key in ("type", "exception", "component"):
                    if key in report:
                        yield f"sensorElementList/sensorReport/{key}", report[key]
    err = event.get("errorDeclaration")
    if isinstance(err, dict) and "reason" in err:
        yield "errorDeclaration/reason", err["reason"]


def vocabulary_strings(obj) -> set[str]:
    """Every string in `obj` (at any depth) that is a web vocabulary URI."""
    if isinstance(obj, str):
        return {obj} if obj.startswith(VOCABULARY_PREFIXES) else set()
    out = set()
    stack = [obj]
    while stack:  # no recursion: a deep document cannot exhaust the stack here
        x = stack.pop()
        if isinstance(x, dict):
            x = x.values()
        elif not isinstance(x, list):
            continue
        for v in x:
            if type(v) is str:
                if v.startswith(VOCABULARY_PREFIXES):
                    out.add(v)
            elif isinstance(v, dict | list):
                stack.append(v)
            elif isinstance(v, str) and v.startswith(VOCABULARY_PREFIXES):
                out.add(v)
    return out


@lru_cache(maxsize=4096)
def _expanded(field: str, value: str) -> str | None:
    """The web vocabulary URI a typed field's value expands to in the JSON-LD context, or None."""
    voc = vocabulary()
    full = voc["terms"].get(field, {}).get(value)
    prefix, sep, rest = value.partition(":")
    if full is None and sep and prefix in voc["prefixes"]:
        full = voc["prefixes"][prefix] + rest
    return full if full and full.startswith(VOCABULARY_PREFIXES) else None


#: the fields no pre-hash string reads (`hashid.NOT_HASHED`)
UNREAD = ("recordTime", "eventID", "type", "errorDeclaration")


def _typed_terms(event: dict, as_written: bool) -> set[str]:
    """The typed fields' values expanded, and with `as_written` the ones already vocabulary URIs."""
    out = set()
    for field, value in _typed_values(event):
        if type(value) is str or isinstance(value, str):
            full = _expanded(field, value)
            if full:
                out.add(full)
            if as_written and value.startswith(VOCABULARY_PREFIXES):
                out.add(value)
    return out


def typed_terms(event: dict) -> set[str]:
    """`expanded_terms` without its walk over the fields a pre-hash string reads: the typed fields'
    values expanded (or vocabulary URIs already), and the vocabulary URIs under the fields no pre-hash
    reads. A pass that reads every other string (`prehash_direct`) notes the vocabulary URIs it meets;
    when they are all here, these are the event's terms, else `expanded_terms` decides."""
    out = _typed_terms(event, True)
    for k in UNREAD:  # (vocabulary_strings of the four, without its walk for the strings they mostly are)
        v = event.get(k)
        if type(v) is str:
            if v.startswith(VOCABULARY_PREFIXES):
                out.add(v)
        elif v is not None:
            out |= vocabulary_strings(v)
    return out


def expanded_terms(event: dict) -> set[str]:
    return vocabulary_strings(event) | _typed_terms(event, False)


@lru_cache(maxsize=65536)
def _tails(term: str) -> dict[str, str]:
    """Each tail of a term after a '-' or '/', to the term."""
    return {term[i + 1 :]: term for i, ch in enumerate(term) if ch in "-/"}


@lru_cache(maxsize=4096)  # events of one system use a handful of term sets
def abbreviations(terms: frozenset[str]) -> dict[str, str]:
    """Every tail of a term after a '-' or '/' (`shipping`) to the one term it abbreviates; a tail
    of two or more of the terms abbreviates none (it is left out). Merged from each term's own
    tails at C speed: an event's terms are often a set no event before had (6,798 sets among
    20,000 generated events), and the merge was 5 % of a hash ID as a loop of `setdefault`s."""
    out: dict[str, str] = {}
    shared: set[str] = set()
    for t in terms:
        own = _tails(t)
        if out:
            shared |= out.keys() & own.keys()
        out |= own
    for tail in shared:
        del out[tail]
    return out


# --- canonical values --------------------------------------------------------------------------

_FRACTION = re.compile(r"(\.\d{6})\d+")


@lru_cache(maxsize=65536)
def utc_millis(text: str) -> str:
    """An xsd:dateTime as UTC with milliseconds (`2005-04-04T02:33:31.116Z`); unparseable stays."""
    try:
        t = datetime.fromisoformat(_FRACTION.sub(r"\1", text))
    except ValueError:
        return text
    t = t.astimezone(UTC)
    us = round(t.microsecond, -3)
    t = t.replace(microsecond=0) + timedelta(microseconds=us)
    return t.isoformat(timespec="milliseconds")[:-6] + "Z"


def _number(text: str) -> str:
    if text[:1].isascii() and text[:1].isalpha():  # no number (float() reads "inf"/"nan": kept as text too)
        return text
    try:
        n = float(text)
        return str(int(n) if int(n) == n else n)
    except (ValueError, OverflowError):
        return text


@lru_cache(maxsize=65536)
def canonical_value(text: str) -> str:
    if "urn:epcglobal:cbv:" in text:
        for urn, web in _CBV_URNS:
            text = text.replace(urn, web)
    if not (text[:1].isascii() and text[:1].isalpha()):  # (`_number`'s own first test: most values are URIs)
        text = _number(text)
    return _canonical(text) or text


_canonical = canonical.__wrapped__  # canonical_value's own cache stands before it
