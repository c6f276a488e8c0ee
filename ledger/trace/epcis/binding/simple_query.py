"""The EPCIS 2.0 SimpleEventQuery over stored events: every standard parameter, checked, narrowed
to SQL where a column holds the field, then matched against the event as captured.

Parameters come from a URL query string (several values of one parameter separated by `|`) or
from a named query's JSON (`{"EQ_bizStep": ["shipping"], "GE_eventTime": "..."}`). A parameter
this service does not know, or a value it cannot read, is a `QueryParameterError` (400).
WD_ (with descendants) follows the children that captured master data declares; HASATTR_, EQATTR_
and WD_ read only the master data the query's viewer may see (`master_data`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.orm import Session

from ledger.errors import LedgerError
from ledger.store.models import EpcisEpc, EpcisEvent
from ledger.trace.epcis.binding import event_match as m
from ledger.trace.epcis.binding import extension_fields as xf
from ledger.trace.epcis.binding import master_data
from ledger.trace.epcis.capture import full_term

EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
ORDER_FIELDS = {"eventTime": EpcisEvent.event_time, "recordTime": EpcisEvent.record_time}
_EXT = r"(?P<field>[^_\s][^\s]*:[^\s]+)"  # a namespace-qualified extension field name
_PARTS = "|".join(xf.PARTS)  # where an extension field parameter looks (`EQ_ILMD_...`, `EQ_SENSORREPORT_...`)


class QueryParameterError(LedgerError):
    """A parameter that is not a SimpleEventQuery parameter, or a value it cannot take."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


@dataclass
class Query:
    sql: list[ColumnElement[bool]] = field(default_factory=list)
    tests: list[m.Test] = field(default_factory=list)
    sensor: list[Callable[[dict, dict], bool]] = field(default_factory=list)
    prefixes: dict[str, str] = field(default_factory=dict)
    order_by: str | None = None
    order_key: str | None = None  # orderBy an extension field: its `{namespace}local` name (`event_pages`)
    descending: bool = True  # orderDirection "If omitted, defaults to DESC" (EPCIS SimpleEventQuery)
    event_count_limit: int | None = None
    max_event_count: int | None = None
    params: dict[str, list[str]] = field(default_factory=dict)
    viewer: str | None = ""  # whose master data HASATTR_/EQATTR_/WD_ read (None: every member's)

    @property
    def expands(self) -> bool:
        return bool(self.tests or self.sensor)

    def matches(self, event: dict) -> bool:
        """Whether a stored event (with its document's prefixes expanded) passes every test."""
        if not all(t(event) for t in self.tests):
            return False
        return not self.sensor or any(all(s(meta, r) for s in self.sensor) for meta, r in m.sensor_reports(event))


def values_of(raw: Mapping[str, Any]) -> dict[str, list[str]]:
    """{name: [values]} from a query string (`a|b`) or a named query's JSON (lists, scalars)."""
    out: dict[str, list[str]] = {}
    for k, v in raw.items():
        if isinstance(v, list):
            out[k] = ["true" if x is True else "false" if x is False else str(x) for x in v]
        elif isinstance(v, bool):
            out[k] = ["true" if v else "false"]
        elif v is None:
            out[k] = [""]
        else:
            out[k] = str(v).split("|") if isinstance(v, str) else [str(v)]
    return out


def parse(
    raw: Mapping[str, Any], db: Session | None = None, prefixes: dict[str, str] | None = None, viewer: str | None = ""
) -> Query:
    """A Query from SimpleEventQuery parameters; `prefixes` resolve `prefix:field` names; master data
    is read as `viewer` declared it (None: as every member did; the default "": none)."""
    q = Query(prefixes={k: v for k, v in (prefixes or {}).items()}, params=values_of(raw), viewer=viewer)
    for name, values in q.params.items():
        if name == "@context":
            continue
        if len(name) > 200 or any(len(v) > 2000 for v in values):
            raise QueryParameterError(name[:60], "too long")
        _one(q, name, values, db)
    if q.event_count_limit is not None and (q.max_event_count is not None or q.order_by is None):
        raise QueryParameterError("eventCountLimit", "needs orderBy, and excludes maxEventCount (EPCIS 8.2.7.1)")
    return q


def _time(name: str, values: list[str]):
    t = m.when(values[0]) if len(values) == 1 else None
    if t is None:
        raise QueryParameterError(name, "expected one ISO 8601 date-time with a time zone, e.g. 2026-11-24T08:00:00Z")
    return t


def _int(name: str, values: list[str], low: int = 0) -> int:
    if len(values) != 1 or not re.fullmatch(r"\d{1,9}", values[0]) or int(values[0]) < low:
        raise QueryParameterError(name, f"expected a whole number of at least {low}")
    return int(values[0])


def _num(name: str, values: list[str]) -> list[str]:
    if not values or any(m.number(v) is None for v in values):
        raise QueryParameterError(name, "expected a number")
    return values


_SIMPLE_COLUMNS = {
    "GE_eventTime": (EpcisEvent.event_time, "GE"),
    "LT_eventTime": (EpcisEvent.event_time, "LT"),
    "GE_recordTime": (EpcisEvent.record_time, "GE"),
    "LT_recordTime": (EpcisEvent.record_time, "LT"),
}


def _one(q: Query, name: str, values: list[str], db: Session | None) -> None:  # noqa: PLR0911, PLR0912
    if name in _SIMPLE_COLUMNS:
        column, op = _SIMPLE_COLUMNS[name]
        t = _time(name, values)
        q.sql.append(column >= t if op == "GE" else column < t)
        return
    if name == "eventType":
        # "may also be the name of an extension event type" (a URI or prefix:Name): none is stored here
        unknown = [v for v in values if v not in EVENT_TYPES and not re.fullmatch(r"[A-Za-z][\w.+-]*:\S+", v)]
        if unknown:
            raise QueryParameterError(name, f"unknown event type {unknown[0]!r}; one of {', '.join(EVENT_TYPES)}")
        q.sql.append(EpcisEvent.event_type.in_(values))
    elif name == "EQ_action":
        if any(v not in ("ADD", "OBSERVE", "DELETE") for v in values):
            raise QueryParameterError(name, "expected ADD, OBSERVE or DELETE")
        q.sql.append(EpcisEvent.action.in_(values))
    elif name in ("EQ_bizStep", "EQ_disposition"):
        f = name[3:]
        q.sql.append(getattr(EpcisEvent, "biz_step" if f == "bizStep" else f).in_([full_term(f, v) for v in values]))
    elif name in ("EQ_readPoint", "WD_readPoint", "EQ_bizLocation", "WD_bizLocation"):
        ids = {m.identifier(v) for v in values}
        if name.startswith("WD_"):
            ids = master_data.descendants(db, ids, q.viewer)
        column = EpcisEvent.read_point if name.endswith("readPoint") else EpcisEvent.biz_location
        q.sql.append(column.in_(sorted(ids)))
    elif name == "EQ_eventID":
        # the eventID the event carries: declared, or its hash ID where it declared none (its `event_ref`)
        ref = EpcisEvent.event_ref
        q.sql.append(or_(ref.in_(values), and_(ref.is_(None), EpcisEvent.hash_id.in_(values))))
    elif name in ("orderBy", "orderDirection", "eventCountLimit", "maxEventCount"):
        _controls(q, name, values)
    elif (mt := re.fullmatch(r"MATCH_(epc|parentID|inputEPC|outputEPC|anyEPC)", name)) is not None:
        match = _matcher(name, values)
        lists, singles = m.EPC_FIELDS[mt.group(1)]
        q.tests.append(lambda e: any(match(v) for v in m.identifiers_in(e, lists, singles)))
        if match.only_exact:  # the identifiers table holds every identifier an event names
            q.sql.append(exists().where(EpcisEpc.event_id == EpcisEvent.id, EpcisEpc.uri.in_(sorted(match.exact))))
    elif (mt := re.fullmatch(r"MATCH_(epcClass|inputEPCClass|outputEPCClass|anyEPCClass)", name)) is not None:
        match, fields = _matcher(name, values), m.CLASS_FIELDS[mt.group(1)]
        q.tests.append(lambda e: any(match(x.get("epcClass")) for x in m.classes_in(e, fields)))
    else:
        _fields(q, name, values, db)


def _matcher(name: str, values: list[str]) -> m.IdMatcher:
    try:
        return m.IdMatcher(values)
    except ValueError as exc:
        raise QueryParameterError(name, str(exc)) from None


def _controls(q: Query, name: str, values: list[str]) -> None:
    if name == "orderBy":  # eventTime, recordTime, or an extension field (Int, Float, Time or String)
        if values[0] not in ORDER_FIELDS and not re.fullmatch(_EXT, values[0]):
            raise QueryParameterError(name, "expected eventTime, recordTime or an extension field's qualified name")
        q.order_by = values[0]
        q.order_key = None if values[0] in ORDER_FIELDS else m.field_name(values[0], q.prefixes)
    elif name == "orderDirection":
        if values[0] not in ("ASC", "DESC"):
            raise QueryParameterError(name, "expected ASC or DESC")
        q.descending = values[0] == "DESC"
    elif name == "eventCountLimit":
        q.event_count_limit = _int(name, values, 1)
    else:
        q.max_event_count = _int(name, values, 1)


def _fields(q: Query, name: str, values: list[str], db: Session | None) -> None:  # noqa: PLR0912
    if name in ("EQ_persistentDisposition_set", "EQ_persistentDisposition_unset"):
        key, wanted = name.rsplit("_", 1)[1], {full_term("disposition", v) for v in values}
        q.tests.append(
            lambda e: any(
                full_term("disposition", d) in wanted for d in (e.get("persistentDisposition") or {}).get(key) or []
            )
        )
    elif name == "EQ_transformationID":
        wanted = set(values)
        q.tests.append(lambda e: e.get("transformationID") in wanted)
    elif (mt := re.fullmatch(r"EQ_(bizTransaction|source|destination)_(\S+)", name)) is not None:  # a name, URN or URI
        _typed_list(q, mt.group(1), mt.group(2), set(values))
    elif (mt := re.fullmatch(r"(EQ|GT|GE|LT|LE)_quantity(?:_([A-Z0-9]{2,4}))?", name)) is not None:
        op, uom, wanted = mt.group(1), mt.group(2), _num(name, values)
        fields, within = m.CLASS_FIELDS["anyEPCClass"], m.quantity_in
        q.tests.append(lambda e: any(m.compare_quantity(op, within(x, uom), wanted) for x in m.classes_in(e, fields)))
    elif name == "EXISTS_errorDeclaration":
        q.tests.append(lambda e: isinstance(e.get("errorDeclaration"), dict))
    elif name in ("GE_errorDeclarationTime", "LT_errorDeclarationTime", "GE_errorDeclaration_Time",
                  "LT_errorDeclaration_Time"):  # fmt: skip
        t, op = _time(name, values), name[:2]
        q.tests.append(
            lambda e: m.compare(op, (e.get("errorDeclaration") or {}).get("declarationTime"), [t.isoformat()])
        )
    elif name in ("EQ_errorReason", "EQ_correctiveEventID"):
        _error_fields(q, name, values)
    elif name == "EXISTS_sensorElementList":
        q.tests.append(lambda e: bool(e.get("sensorElementList")))
    elif (mt := re.fullmatch(r"(EQ|GT|GE|LT|LE)_(\w+?)(?:_([A-Z0-9]{2,4}))?", name)) is not None and (
        mt.group(2) in m.SENSOR_FIELDS or mt.group(2) in m.SENSOR_MEASURES
    ):
        op, f, uom = mt.groups()
        if f in ("time", "startTime", "endTime"):
            values = [_time(name, values).isoformat()]
        elif f in m.SENSOR_MEASURES or f == "percRank":
            _num(name, values)
        q.sensor.append(m.sensor_test(op, f, uom, values))
    elif mt := re.fullmatch(rf"(EQ|GT|GE|LT|LE|EXISTS)_(?:(INNER)_)?(?:({_PARTS})_)?{_EXT}", name):
        _extension(q, mt.group(1), bool(mt.group(2)), mt.group(3) or "", m.field_name(mt.group("field"), q.prefixes),
                   values)  # fmt: skip
    elif (mt := re.fullmatch(r"(HASATTR|EQATTR|EQ_ATTR)_(\w+?)(?:_(.+))?", name)) is not None:
        _attributes(q, name, mt.group(1), mt.group(2), mt.group(3), values, db)
    else:
        raise QueryParameterError(name, "not a SimpleEventQuery parameter this service knows")


def _typed_list(q: Query, kind: str, type_name: str, wanted: set[str]) -> None:
    list_name, item = f"{kind}List", kind if kind == "bizTransaction" else kind
    term = full_term(f"{list_name}/type", type_name) or type_name
    ids = {m.identifier(v) for v in wanted} | wanted

    def test(e: dict) -> bool:
        for x in e.get(list_name) or []:
            if isinstance(x, dict) and (full_term(f"{list_name}/type", x.get("type")) or x.get("type")) == term:
                v = x.get(item)
                if v in ids or (isinstance(v, str) and m.identifier(v) in ids):
                    return True
        return False

    q.tests.append(test)


def _error_fields(q: Query, name: str, values: list[str]) -> None:
    if name == "EQ_errorReason":
        wanted = {full_term("errorDeclaration/reason", v) for v in values}
        q.tests.append(
            lambda e: full_term("errorDeclaration/reason", (e.get("errorDeclaration") or {}).get("reason")) in wanted
        )
    else:
        ids = set(values)
        q.tests.append(lambda e: bool(ids & set((e.get("errorDeclaration") or {}).get("correctiveEventIDs") or [])))


def _extension(q: Query, op: str, inner: bool, where: str, key: str, values: list[str]) -> None:
    if op == "EXISTS":
        q.tests.append(lambda e: bool(xf.extension_values(e, where, inner, key)))
        return
    if op != "EQ" and (len(values) != 1 or (m.number(values[0]) is None and m.when(values[0]) is None)):
        raise QueryParameterError(f"{op}_{key}", "expected one number or date-time (GT_/GE_/LT_/LE_: Int, Float, Time)")
    q.tests.append(lambda e: any(m.compare(op, v, values) for v in xf.extension_values(e, where, inner, key)))


def _attributes(q: Query, name: str, kind: str, f: str, attr: str | None, values: list[str], db) -> None:
    if f not in master_data.ATTR_FIELDS:
        raise QueryParameterError(
            name, f"master data attributes are kept for {', '.join(sorted(master_data.ATTR_FIELDS))}"
        )
    if (kind == "HASATTR") == (attr is not None) or db is None:
        raise QueryParameterError(name, "HASATTR_<field>=<attribute> or EQATTR_<field>_<attribute>=<value>")
    having = master_data.having(db, attr, values, q.viewer)
    q.tests.append(lambda e: any(u in having for u in master_data.field_uris(e, f)))


def sql_filter(q: Query) -> ColumnElement[bool]:
    return and_(*q.sql) if q.sql else and_(EpcisEvent.id.is_not(None))
