"""A strict, namespace-aware XML reader that never expands anything: a DOCTYPE with an internal
subset or an external identifier, any entity or notation declaration and any external entity are
refused (`InvalidXml`), as are documents nested deeper than MAX_DEPTH or holding more than
MAX_ELEMENTS elements (each costs ~300 bytes built: 32 MiB of `<a/>` held 2.6 GB, found from
outside; a capture of 10,000 events holds ~500,000), before more is built.
A bare `<!DOCTYPE name>` (GS1's own examples carry one) declares nothing and is allowed."""

from __future__ import annotations

from xml.parsers import expat

from ledger.errors import LedgerError

MAX_DEPTH = 64
MAX_ELEMENTS = 1_000_000


class InvalidXml(LedgerError):
    """Not a well-formed, safe EPCIS XML document; the message says where and why."""


class Element:
    __slots__ = ("ns", "name", "attrs", "children", "text", "parts")

    def __init__(self, ns: str, name: str, attrs: dict[tuple[str, str], str]):
        self.ns, self.name, self.attrs = ns, name, attrs
        self.children: list[Element] = []
        self.text = ""
        self.parts: list[str] = []  # text as expat hands it over, joined once at the element's end


def _split(qname: str) -> tuple[str, str]:
    ns, _, name = qname.rpartition(" ")
    return ns, name


def parse(data: bytes) -> tuple[Element, dict[str, str]]:
    """The root element and {prefix: namespace} of every namespace the document declares."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    # expat reports each character reference on its own; buffered, runs of text arrive in chunks,
    # and text is joined once per element (appending to a string each time was quadratic)
    parser.buffer_text, parser.buffer_size = True, 1 << 16
    prefixes: dict[str, str] = {}
    stack: list[Element] = []
    root: list[Element] = []
    count = [0]

    def refuse(what: str):
        def handler(*_args):
            raise InvalidXml(f"{what} at line {parser.CurrentLineNumber}: refused (no DTDs or entities here)")

        return handler

    def doctype(name, system_id, public_id, has_internal_subset):
        if system_id or public_id or has_internal_subset:
            refuse("a DOCTYPE with declarations or an external identifier")()

    def start(qname, attrs):
        if len(stack) >= MAX_DEPTH:
            raise InvalidXml(f"nested more than {MAX_DEPTH} elements deep at line {parser.CurrentLineNumber}")
        count[0] += 1
        if count[0] > MAX_ELEMENTS:
            raise InvalidXml(f"more than {MAX_ELEMENTS:,} elements (at line {parser.CurrentLineNumber})")
        el = Element(*_split(qname), {_split(k): v for k, v in attrs.items()})
        (stack[-1].children if stack else root).append(el)
        stack.append(el)

    def end(_qname):
        el = stack.pop()
        el.text, el.parts = "".join(el.parts), []

    def text(data_):
        if stack:
            stack[-1].parts.append(data_)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = refuse("an entity declaration")
    parser.UnparsedEntityDeclHandler = refuse("an unparsed entity")
    parser.ExternalEntityRefHandler = refuse("an external entity")
    parser.NotationDeclHandler = refuse("a notation")
    parser.StartNamespaceDeclHandler = lambda prefix, uri: prefixes.setdefault(prefix or "", uri)
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InvalidXml(f"not well-formed XML: {exc}") from None
    except (LookupError, ValueError) as exc:  # an encoding Python has not, or not for text (rot13, utf-7)
        raise InvalidXml(f"an encoding this service does not read: {exc}") from None
    if not root:
        raise InvalidXml("no root element")
    return root[0], prefixes
