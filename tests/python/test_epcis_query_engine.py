"""The SimpleEventQuery engine on events as captured (no database): identifiers and patterns,
sensor reports, quantities, ILMD and inner extension fields, error declarations; query schedules;
which webhook destinations a subscription may name."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.webhook_receiver import WebhookReceiver
from ledger.errors import InvalidInput
from ledger.trace.epcis.binding import event_match as m
from ledger.trace.epcis.binding import schedules, webhook_dest
from ledger.trace.epcis.binding import simple_query as sq
from ledger.trace.epcis.binding.named_queries import check_dest

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
    # a quantity asked in another unit of its kind is converted first (as GE_value_<uom> is): 200 KGM
    # is 200,000 GRM and 0.2 TNE; a unit of no kind of its own is compared with itself only
    assert matches({"EQ_quantity_GRM": "200000"}, q) and matches({"GE_quantity_TNE": "0.2"}, q)
    assert not matches({"GT_quantity_TNE": "0.2"}, q) and not matches({"EQ_quantity_XYZ": "200"}, q)
    q["quantityList"][0]["uom"] = "LBR"
    assert matches({"LT_quantity_KGM": "91"}, q) and not matches({"LT_quantity_KGM": "90"}, q)  # 90.718 kg


def test_epc_patterns_match_the_same_epcs_written_as_digital_links():
    """EPCIS 2.0 8.2.7.1.1: a MATCH_ value is an EPC URI or an EPC pattern (Tag Data Standard), and an
    event's EPC may be a GS1 Digital Link URI. A pattern whose wildcards start after the company prefix
    (`0614141.*.*`: every item of the company) now finds the Digital Link form too (before, only
    patterns with the whole GTIN did), and a pattern naming every component is that EPC."""
    e = {"type": "ObjectEvent", "epcList": ["https://example.com/01/00614141073467/21/2017"],
         "parentID": "https://id.gs1.org/00/106141412345678908", "readPoint": {"id": "urn:x:1"},
         "childEPCs": ["https://id.gs1.org/414/0614141007770/254/5", "https://id.gs1.org/8003/00614141000012ab"],
         "quantityList": [{"epcClass": "https://id.gs1.org/01/04012345123456/10/998877", "quantity": 1}]}  # fmt: skip
    for yes in ("urn:epc:idpat:sgtin:0614141.*.*", "urn:epc:idpat:sgtin:*.*.*",
                "urn:epc:idpat:sgtin:0614141.007346.2017", "urn:epc:idpat:sgln:0614141.*.*",
                "urn:epc:idpat:grai:0614141.*.*", "urn:epc:idpat:grai:0614141.00001.*"):  # fmt: skip
        assert matches({"MATCH_epc": yes}, e), yes
    for no in ("urn:epc:idpat:sgtin:0614142.*.*", "urn:epc:idpat:sgtin:0614140.*.*", "urn:epc:idpat:sscc:0614141.*",
               "urn:epc:idpat:sgtin:0614141.*.2018", "urn:epc:idpat:grai:0614141.00002.*"):  # fmt: skip
        assert not matches({"MATCH_epc": no}, e), no
    assert matches({"MATCH_parentID": "urn:epc:idpat:sscc:0614141.*"}, e)
    assert not matches({"MATCH_parentID": "urn:epc:idpat:sscc:0614142.*"}, e)
    assert matches({"MATCH_epcClass": "urn:epc:idpat:sgtin:4012345.*.*"}, e)
    assert not matches({"MATCH_epcClass": "urn:epc:idpat:sgtin:4012346.*.*"}, e)
    grai = {"type": "ObjectEvent", "epcList": ["urn:epc:id:grai:0614141.00001.ab"]}  # (its serial follows, no `/`)
    assert matches({"MATCH_epc": "urn:epc:idpat:grai:0614141.00001.*"}, grai)


def test_epc_patterns_of_every_scheme_match_their_digital_links():
    """The schemes whose EPCs are written as Digital Links (`identifiers.canonical`) and that a
    pattern's company prefix cut did not read: sgcn (255), cpi (8010/8011), ginc (401), gsin (402),
    itip (8006), upui (01/235), gsrnp (8017). Each EPC, sent as its Digital Link, is found by its
    company's pattern and by its class's, and not by another company's (TDS 2.x EPC URIs)."""
    from ledger.trace.epcis.identifiers import canonical

    for urn, company, klass in (
        ("urn:epc:id:sgcn:4012345.67890.04711", "4012345.*.*", "4012345.67890.*"),
        ("urn:epc:id:cpi:0614141.123ABC.123456789", "0614141.*.*", "0614141.123ABC.*"),
        ("urn:epc:id:ginc:0614141.XYZ4711", "0614141.*", None),
        ("urn:epc:id:gsin:0614141.123456789", "0614141.*", None),
        ("urn:epc:id:itip:4012345.012345.01.02.987", "4012345.*.*.*.*", "4012345.012345.01.02.*"),
        ("urn:epc:id:upui:1234567.089456.51qIgY", "1234567.*.*", "1234567.089456.*"),
        ("urn:epc:id:gsrnp:0614141.1234567890", "0614141.*", None),
    ):
        scheme = urn.split(":")[3]
        e = {"type": "ObjectEvent", "epcList": [canonical(urn)]}
        assert e["epcList"][0].startswith("https://id.gs1.org/"), urn
        for yes in filter(None, (company, klass, urn.split(":", 4)[4])):
            assert matches({"MATCH_epc": f"urn:epc:idpat:{scheme}:{yes}"}, e), (urn, yes)
        other = str(int(company.split(".")[0]) + 1).zfill(len(company.split(".")[0]))
        assert not matches({"MATCH_epc": f"urn:epc:idpat:{scheme}:{other}{company[len(other) :]}"}, e), urn


def test_typed_lists_by_any_spelling_of_the_type():
    """EQ_bizTransaction_type / EQ_source_type / EQ_destination_type: "type extracted from the name
    of this parameter" (EPCIS 2.0 8.2.7.1) is a CBV name, its URN (as EPCIS 1.x wrote types) or its
    web URI, or a URI of the user's own; each names the entries of that type (before, a type with a
    `:` was taken for an extension field and matched nothing)."""
    e = {"type": "ObjectEvent",
         "bizTransactionList": [{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "urn:epcglobal:cbv:bt:1:2"},
                                {"type": "https://ns.example.com/t", "bizTransaction": "urn:x:3"}],
         "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
         "destinationList": [{"type": "location", "destination": "urn:epc:id:sgln:0614141.00777.0"}]}  # fmt: skip
    for t in ("po", "urn:epcglobal:cbv:btt:po", "https://ref.gs1.org/cbv/BTT-po"):
        assert matches({f"EQ_bizTransaction_{t}": "urn:epcglobal:cbv:bt:1:2"}, e)
        assert not matches({f"EQ_bizTransaction_{t}": "urn:x:3"}, e)
    assert matches({"EQ_bizTransaction_https://ns.example.com/t": "urn:x:3"}, e)
    assert matches({"EQ_source_urn:epcglobal:cbv:sdt:owning_party": "urn:epc:id:pgln:0614141.00001"}, e)
    assert matches({"EQ_destination_https://ref.gs1.org/cbv/SDT-location": "urn:epc:id:sgln:0614141.00777.0"}, e)
    assert not matches({"EQ_destination_urn:epcglobal:cbv:sdt:owning_party": "urn:epc:id:sgln:0614141.00777.0"}, e)


def test_an_epc_pattern_is_matched_by_component_in_linear_time():
    """Each `*` one whole component; what else holds a `*` is refused. (A regular expression of
    seven wildcards took 78 s on one 80-character identifier, the worker frozen: found from outside.)"""
    long = {"type": "ObjectEvent", "epcList": ["urn:epc:id:x:" + "a" * 5000 + "!"]}
    t = time.perf_counter()
    with pytest.raises(sq.QueryParameterError, match="whole component"):
        matches({"MATCH_anyEPC": "urn:epc:idpat:x:*a*a*a*a*a*a*a"}, long)
    assert not matches({"MATCH_anyEPC": "urn:epc:idpat:x:*.*"}, long)
    assert matches({"MATCH_anyEPC": "urn:epc:idpat:x:*"}, long)
    assert time.perf_counter() - t < 1
    e = {"type": "ObjectEvent", "epcList": ["urn:epc:id:adi:9999999.A.B.C"]}  # no GS1 key: component by component
    assert matches({"MATCH_epc": "urn:epc:idpat:adi:9999999.*.B.*"}, e)
    assert not matches({"MATCH_epc": "urn:epc:idpat:adi:9999999.*.C.*"}, e)
    assert not matches({"MATCH_epc": "urn:epc:idpat:adi:9999999.*.*"}, e)  # one component short
    assert not matches({"MATCH_epc": "urn:epc:idpat:adi:9999999.*.B.C.*"}, e)  # no empty component


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


def test_sensor_values_in_another_unit_of_the_same_kind():
    """GS1's Test Case Requirement 53, step 26: `GE_value_KEL` with a value in kelvin above the
    degrees Celsius an event gave finds it. Units of one kind are converted (a standard deviation
    scaled, not shifted); a unit of another kind, or one not known, is never compared."""
    e = {"type": "ObjectEvent", "sensorElementList": [{"sensorReport": [
        {"type": "Temperature", "value": 0, "sDev": 1, "uom": "CEL"},
        {"type": "Mass", "value": 1500, "uom": "GRM"}]}]}  # fmt: skip
    assert matches({"EQ_type": "Temperature", "GE_value_KEL": "273"}, e)
    assert matches({"EQ_value_KEL": "273.15"}, e) and matches({"EQ_value_FAH": "32"}, e)
    assert not matches({"GT_value_KEL": "273.15"}, e) and matches({"LT_value_FAH": "33"}, e)
    assert matches({"EQ_sDev_KEL": "1"}, e) and not matches({"EQ_sDev_KEL": "274.15"}, e)
    assert matches({"EQ_type": "Mass", "GT_value_KGM": "1.4"}, e) and not matches({"GT_value_KGM": "1.5"}, e)
    assert not matches({"EQ_type": "Temperature", "GE_value_KGM": "0"}, e)  # no temperature in kilograms
    assert not matches({"GE_value_LTR": "0"}, e)


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


def test_extension_fields_of_sensor_elements_metadata_reports_and_locations():
    """EQ_/GT_/.../EXISTS_ SENSORELEMENT_, SENSORMETADATA_, SENSORREPORT_ (GS1's Test Case
    Requirement 53, steps 20-22, and query schema) and readPoint_ / bizLocation_ (GS1's query schema),
    with INNER_: before, each was read as a top-level field named `SENSORREPORT_ex:...` and matched
    nothing."""
    e = {"type": "ObjectEvent", "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0", "ex:dock": "A"},
         "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0", "ex:site": {"ex:zone": "cold"}},
         "sensorElementList": [{"sensorMetadata": {"time": "2026-01-01T00:00:00Z", "ex:batch": 5},
                                "sensorReport": [{"type": "Temperature", "value": 20, "uom": "CEL", "ex:probe": "p1"}],
                                "ex:element": {"ex:tag": "t"}}]}  # fmt: skip
    assert matches({"EQ_SENSORREPORT_ex:probe": "p1"}, e, EX) and not matches({"EQ_SENSORREPORT_ex:probe": "p2"}, e, EX)
    assert matches({"GE_SENSORMETADATA_ex:batch": "5"}, e, EX) and not matches(
        {"GT_SENSORMETADATA_ex:batch": "5"}, e, EX
    )
    assert matches({"EXISTS_SENSORELEMENT_ex:element": ""}, e, EX) and matches(
        {"EQ_INNER_SENSORELEMENT_ex:tag": "t"}, e, EX
    )
    assert not matches({"EXISTS_SENSORELEMENT_ex:probe": ""}, e, EX)  # a report's field is not its element's
    assert matches({"EQ_readPoint_ex:dock": "A"}, e, EX) and not matches({"EQ_bizLocation_ex:dock": "A"}, e, EX)
    assert matches({"EQ_INNER_bizLocation_ex:zone": "cold"}, e, EX) and not matches({"EQ_ex:dock": "A"}, e, EX)


def test_an_extension_event_type_is_a_name_to_ask_for():
    """eventType: "An element of the parameter value may also be the name of an extension event type"
    (EPCIS 2.0 8.2.7.1): such a name (a URI or prefix:Name) is a question this repository answers with
    no events, not a QueryParameterException; a bare word that is no event type still is one."""
    q = sq.parse({"eventType": "ObjectEvent|ex:SealEvent|https://ns.example.com/epcis/SealEvent"}, None)
    assert q.sql and matches({"eventType": "ex:SealEvent"}, {"type": "ObjectEvent"})  # (the SQL part decides)
    with pytest.raises(sq.QueryParameterError):
        sq.parse({"eventType": "SealEvent"}, None)


@pytest.mark.parametrize(
    "params",
    [{"EQ_bogus": "x"}, {"GE_eventTime": "tomorrow"}, {"eventType": "Event"}, {"EQ_action": "MOVE"},
     {"orderBy": "grade"}, {"eventCountLimit": "-1"}, {"GT_value_KGM": "heavy"}, {"HASATTR_nothing": "x"},
     # eventCountLimit "may only be used when orderBy is specified" and "maxEventCount are mutually
     # exclusive; if both are specified, a QueryParameterException SHALL be raised" (EPCIS 2.0 8.2.7.1)
     {"eventCountLimit": "1"}, {"eventCountLimit": "1", "maxEventCount": "5", "orderBy": "eventTime"},
     # GT_/GE_/LT_/LE_fieldname compare an Int, Float or Time: another value is of the wrong type
     {"GT_https://ns.example.com/epcis/grade": "high"}, {"LE_ILMD_https://ns.example.com/epcis/when": "soon"}],
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
    assert check_dest("https://[2606:4700::1111]/hook", allow_private=False)  # (resolved, never called)
    private = ["http://127.0.0.1:9/x", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/latest",
               "http://100.64.0.1/", "http://[2002:7f00:1::]/", "http://[::ffff:127.0.0.1]/", "http://[::7f00:1]/",
               "http://[64:ff9b::a00:1]/", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "http://0.0.0.0/",
               "http://[::]/", "http://224.0.0.1/", "http://[ff02::1]/", "http://[fe80::1]/", "http://240.0.0.1/",
               "http://192.0.2.1/", "http://[fd00::1]/", "http://a..b/", "http://" + "a" * 300 + "/"]  # fmt: skip
    for dest in private:
        with pytest.raises(InvalidInput):
            check_dest(dest, allow_private=False)
    # one parser: the host checked is the host connected to; ports and hosts that do not parse are refused
    odd = ["ftp://example.com/x", "file:///etc/passwd", "https:///nohost", 42,
           "http://127.0.0.1:8399\\@1.1.1.1/hook", "http://1.1.1.1:99999/", "http://[::1/",
           "http://1.1.1.1:0/", "http://u:p@1.1.1.1/", "http://a b/"]  # fmt: skip
    for dest in odd:
        with pytest.raises(InvalidInput):
            check_dest(dest, allow_private=True)


def test_a_delivery_connects_only_to_an_address_checked_when_it_is_sent():
    """A name that resolved to a public address when the subscription was made may resolve to a
    private one later: each delivery resolves it again, checks every address and connects to the
    checked one; here `localhost` is refused at send time and the receiver on it gets nothing."""
    receiver = WebhookReceiver()
    empty = json.dumps({"epcisBody": {"queryResults": {"resultsBody": {"eventList": []}}}}).encode()
    try:
        port = receiver.server.server_port
        with pytest.raises(webhook_dest.Refused):
            webhook_dest.post(f"http://localhost:{port}/hook", empty, {}, allow_private=False, timeout_s=2)
        assert receiver.deliveries == []
        # allowed (development and tests): delivered to the address checked, with the URL's Host
        assert webhook_dest.post(f"http://localhost:{port}/hook", empty, {}, allow_private=True, timeout_s=5) == 204
        assert receiver.deliveries[0][0]["Host"] == f"localhost:{port}"
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
