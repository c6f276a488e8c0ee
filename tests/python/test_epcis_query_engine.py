"""The SimpleEventQuery engine on events as captured (no database): identifiers and patterns,
sensor reports, quantities, ILMD and inner extension fields, error declarations; query schedules;
which webhook destinations a subscription may name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.errors import InvalidInput
from ledger.trace.epcis import event_match as m
from ledger.trace.epcis import schedules
from ledger.trace.epcis import simple_query as sq
from ledger.trace.epcis.named_queries import check_dest

SENSOR = json.loads((Path(__file__).parents[1] / "fixtures/epcis/gs1/SensorDataExample17.jsonld").read_text())
EX = {"ex": "{https://ns.example.com/epcis/}"}


def matches(params: dict, event: dict, prefixes: dict | None = None) -> bool:
    q = sq.parse(params, None, prefixes or {})  # (MATCH_ also narrows in SQL; its Python test is exact)
    return q.matches(m.expand(event, EX))


def test_identifier_patterns():
    e = {"type": "ObjectEvent", "epcList": ["https://id.gs1.org/01/10614141073464/21/2017"],
         "parentID": "urn:epc:id:sscc:0614141.1234567890"}  # fmt: skip
    assert matches({"MATCH_epc": "urn:epc:id:sgtin:0614141.107346.2017"}, e)  # URN finds its Digital Link
    assert matches({"MATCH_epc": "urn:epc:idpat:sgtin:0614141.107346.*"}, e)
    assert not matches({"MATCH_epc": "urn:epc:idpat:sgtin:0614141.107347.*"}, e)
    assert matches({"MATCH_parentID": "urn:epc:idpat:sscc:0614141.*"}, e)
    assert not matches({"MATCH_parentID": "urn:epc:id:sgtin:0614141.107346.2017"}, e)
    assert matches({"MATCH_anyEPC": "urn:epc:id:sscc:0614141.1234567890|x"}, e)
    q = {"type": "ObjectEvent", "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                                                  "quantity": 200, "uom": "KGM"}]}  # fmt: skip
    assert matches({"MATCH_epcClass": "https://id.gs1.org/01/04012345123456/10/998877"}, q)
    assert matches({"GE_quantity_KGM": "200"}, q) and not matches({"GT_quantity_KGM": "200"}, q)
    assert not matches({"EQ_quantity_LTR": "200"}, q) and matches({"EQ_quantity": "150|200"}, q)


def test_sensor_reports():
    e = SENSOR["epcisBody"]["eventList"][0]
    assert matches({"EQ_type": "gs1:Mass"}, e) and matches({"EQ_type": "Mass"}, e)
    assert not matches({"EQ_type": "gs1:Temperature"}, e)
    assert matches({"GE_value_KGM": "25"}, e) and not matches({"GT_value_KGM": "26"}, e)
    assert not matches({"GE_value_CEL": "0"}, e)  # no report in degrees Celsius
    assert matches({"EXISTS_sensorElementList": ""}, e)
    # conditions hold within one report: a Mass report of 25 kg exists, no Temperature of 25
    assert matches({"EQ_type": "Mass", "EQ_value_KGM": "25"}, e)
    assert not matches({"EQ_type": "Temperature", "EQ_value_KGM": "25"}, e)


def test_extension_fields_ilmd_and_errors():
    e = {
        "type": "ObjectEvent",
        "ex:grade": 7,
        "ex:shipment": {"ex:carrier": "SF", "ex:when": "2026-11-24T08:00:00Z"},
        "ilmd": {"ex:bestBefore": "2027-01-01T00:00:00Z"},
        "errorDeclaration": {"declarationTime": "2026-11-25T00:00:00Z", "reason": "incorrect_data",
                             "correctiveEventIDs": ["urn:uuid:1"], "ex:by": "auditor"},
    }  # fmt: skip
    assert matches({"GE_ex:grade": "7"}, e, EX) and not matches({"GT_ex:grade": "7"}, e, EX)
    assert matches({"EQ_INNER_ex:carrier": "SF"}, e, EX) and not matches({"EQ_ex:carrier": "SF"}, e, EX)
    assert matches({"LT_INNER_ex:when": "2026-11-25T00:00:00+08:00"}, e, EX)
    assert matches({"EXISTS_ILMD_ex:bestBefore": ""}, e, EX) and not matches({"EXISTS_ILMD_ex:other": ""}, e, EX)
    assert matches({"GE_ILMD_ex:bestBefore": "2026-12-31T00:00:00Z"}, e, EX)
    assert matches({"EXISTS_errorDeclaration": ""}, e) and matches({"EQ_errorReason": "incorrect_data"}, e)
    assert matches({"EQ_correctiveEventID": "urn:uuid:1"}, e) and matches(
        {"EQ_ERROR_DECLARATION_ex:by": "auditor"}, e, EX
    )
    assert matches({"GE_errorDeclarationTime": "2026-11-24T00:00:00Z"}, e)
    assert matches({"EQ_https://ns.example.com/epcis/grade": "7"}, e)  # a full IRI needs no prefix


@pytest.mark.parametrize(
    "params",
    [{"EQ_bogus": "x"}, {"GE_eventTime": "tomorrow"}, {"eventType": "Event"}, {"EQ_action": "MOVE"},
     {"orderBy": "ex:grade"}, {"eventCountLimit": "-1"}, {"GT_value_KGM": "heavy"}, {"HASATTR_nothing": "x"}],
)  # fmt: skip
def test_bad_parameters_are_refused(params):
    with pytest.raises(sq.QueryParameterError):
        sq.parse(params, None)


def test_schedules():
    t = datetime(2026, 12, 2, 14, 30, 10, tzinfo=UTC)
    assert schedules.next_after({"hour": "1", "minute": "5"}, t) == datetime(2026, 12, 3, 1, 5, tzinfo=UTC)
    assert schedules.next_after({"second": "0/30"}, t) == datetime(2026, 12, 2, 14, 30, 30, tzinfo=UTC)
    assert schedules.next_after({"minute": "[40-45]"}, t) == datetime(2026, 12, 2, 14, 40, tzinfo=UTC)
    assert schedules.next_after({"dayOfWeek": "1", "hour": "9"}, t) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    for bad in ({"hour": "24"}, {"minute": "x"}, {"fortnight": "1"}, {}, {"second": "5/0"}):
        with pytest.raises(schedules.ScheduleError):
            schedules.check(bad)
    with pytest.raises(schedules.ScheduleError):
        schedules.next_after({"month": "2", "dayOfMonth": "31"}, t)


def test_webhook_destinations():
    assert check_dest("http://127.0.0.1:9/x", allow_private=True)
    for dest in ("http://127.0.0.1:9/x", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/latest"):
        with pytest.raises(InvalidInput):
            check_dest(dest, allow_private=False)
    for dest in ("ftp://example.com/x", "file:///etc/passwd", "https:///nohost", 42):
        with pytest.raises(InvalidInput):
            check_dest(dest, allow_private=True)
