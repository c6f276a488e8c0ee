"""The JSON -> tree step of the EPCIS event hash (`hashid`): one pass turns a JSON event into the
tree the XML binding would give (name, text, children), bare CBV names replaced by the one web
vocabulary URI they abbreviate, extension prefixes resolved, and the element names JSON leaves out
of lists put back (`epcList: [..]` is `<epcList><epc>..`)."""

from __future__ import annotations

from .canonical import VOCABULARY_PREFIXES, canonical_value, vocabulary_strings

Node = tuple
UNSORTED = ("bizTransaction", "source", "destination")  # these pairs keep the order they came in


_PAIR_LISTS = ("sourceList", "destinationList", "bizTransactionList")
_IGNORED_KEYS = ("#text", "rdfs:comment", "comment")


def _qualify(text, ns: dict[str, str], is_value: bool = False):
    if not isinstance(text, str):
        return text
    i = text.find(":")
    if i > 0 and text[:i] in ns:
        return (ns[text[:i]].strip("{}") if is_value else ns[text[:i]]) + text[i + 1 :]
    return text


#: deeper values are no event's (capture refuses past `schema.MAX_DEPTH`, 64): hashing them raises
#: RecursionError, as the plain Python did at its recursion limit, in a compiled build too
#: (`ledger.native`), whose C recursion the interpreter's limit does not see
MAX_NESTING = 200


class Converter:
    def __init__(self, ns: dict[str, str], abbreviations: dict[str, str], xml: bool = False):
        self.ns, self.abbr, self.xml = ns, abbreviations, xml
        self.keys: dict = {}  # each key as qualified once, for the event's many repeats of it
        self.vocabulary: set[str] = set()  # the vocabulary URIs among the strings read (`typed_terms`)
        self.depth = 0  # objects and lists `value` is inside

    def term(self, v):
        if isinstance(v, str):
            if v.startswith(VOCABULARY_PREFIXES):
                self.vocabulary.add(v)
            return self.abbr.get(v, v)
        return v

    def value(self, v) -> tuple[str, list]:
        """(text, children) of a JSON value."""
        if type(v) is str:  # most values: `term` and `_qualify` inline
            if v.startswith(VOCABULARY_PREFIXES):
                self.vocabulary.add(v)
            v = self.abbr.get(v, v)
            i = v.find(":")
            if i > 0 and not self.xml and v[:i] in self.ns:
                v = self.ns[v[:i]].strip("{}") + v[i + 1 :]
            return v, []
        if isinstance(v, dict | list):
            self.depth += 1
            try:
                if self.depth > MAX_NESTING:  # (the plain Python's own limit, which a compiled build has not)
                    raise RecursionError(f"values nested deeper than {MAX_NESTING} levels")
                if isinstance(v, list):
                    return "", [("", *self.value(x)) for x in v]
                return self.term(v.get("#text", "")), self.children(v)
            finally:
                self.depth -= 1
        if isinstance(v, bool) and self.xml:  # XML's text, as the reference reads an XML document
            return ("true" if v else "false"), []
        # an XML value is text, not a QName: its `prefix:` is no namespace (as the reference reads XML)
        return str(self.term(v) if self.xml else _qualify(self.term(v), self.ns, True)), []

    def children(self, obj: dict) -> list:
        out: list = []
        for key, val in obj.items():
            if key in _IGNORED_KEYS:
                self.vocabulary |= vocabulary_strings(val)
                continue
            qualified = self.keys.get(key)
            if qualified is None:
                qualified = self.keys[key] = _qualify(key, self.ns)
            key = qualified
            if isinstance(val, list):
                out.extend((key, *self.value(el)) for el in val)
            else:
                out.append((key, *self.value(val)))
        if not any(k in obj for k in UNSORTED):
            out.sort()
        return _xml_shape(out)


def _renamed(node: Node) -> Node:
    name = node[0]
    if name in ("inputEPC", "outputEPC"):
        return ("epc", node[1], node[2])
    if name in ("inputQuantity", "outputQuantity", "childQuantity") or (name == "quantity" and node[2]):
        return ("quantityElement", node[1], node[2])
    return node


def _xml_shape(children: list) -> list:
    """Group `xList` members under one `xList` node of `x` elements; `childEPCs` likewise."""
    lists: dict[str, list] = {}
    rest: list = []
    child_epcs: list = []
    for el in children:
        name = el[0]
        if type(name) is str and name.endswith("List"):
            lists.setdefault(name, []).append((name[:-4], el[1], el[2]))
        elif name == "childEPCs":
            child_epcs.append(("epc", el[1], []))
        else:
            rest.append(el)
    out = [_renamed(el) for el in rest]
    for list_name, members in lists.items():
        if list_name in _PAIR_LISTS:
            out.append((list_name, "", [tuple(m[2][:2]) for m in members]))
        else:
            out.append((list_name, "", [_renamed(m) for m in members]))
    if child_epcs:
        out.append(("childEPCs", "", child_epcs))
    return out


def rest(children: list, join: str) -> str:
    """Whatever no order names (extensions, ilmd, lists of pairs): `name=value`, sorted."""
    values = []
    for c in children:
        if not c:  # a pair-list member with neither type nor value
            continue
        if isinstance(c[0], tuple):  # a pair-list member: (type, value), or the value alone
            values.append(rest(list(c), join))
        else:
            text = c[1].strip()
            values.append(c[0] + ("=" + canonical_value(text) if text else "") + rest(c[2], join))
    if len(children) > 1 and not any(c and c[0] in UNSORTED for c in children):
        values.sort()
    return join.join(values)
