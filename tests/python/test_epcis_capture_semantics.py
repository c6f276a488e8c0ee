"""What an EPCIS repository owes its users beyond the schema, through both doors on a real node and
database: error declarations (EPCIS 2.0 7.4.1.2) of events already stored, an eventID two members
declared, and time bounds given in another zone.

An error declaration is the event captured again with an `errorDeclaration`; it has the erroneous
event's hash ID (CBV 2.0 leaves the declaration out), and was taken as a duplicate and lost. It is
now kept on the stored event, found by the declaration's query parameters, and the event's anchor
still holds; only the event's recorder may declare it."""

from __future__ import annotations

import copy

import pytest

from ledger.trace.epcis.samples import CONTEXT

from .helpers import login, make_client, new_gtin
from .test_epcis_rest import capture, events_of

DECLARATION = {
    "declarationTime": "2026-12-07T09:00:00.000Z",
    "reason": "incorrect_data",
    "correctiveEventIDs": ["urn:uuid:7b4c1f2e-0d4e-4c55-9a57-1f3e6c1d9a10"],
}


@pytest.fixture
def api(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    heads = {who: login(c, members[who]) for who in ("producer", "logistics", "auditor")}
    return c, heads


def _doc(*events: dict) -> dict:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-12-07T08:00:00.000Z", "epcisBody": {"eventList": list(events)}}  # fmt: skip


def _event(serial: str) -> dict:
    return {"type": "ObjectEvent", "eventTime": "2026-12-06T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
            "eventID": f"urn:uuid:6a1f0c1e-2b7e-4d0a-9c1b-{serial:0>12}",
            "epcList": [f"https://id.gs1.org/01/{new_gtin()}/21/{serial}"], "action": "OBSERVE",
            "bizStep": "shipping", "disposition": "in_transit"}  # fmt: skip


def _declared(event: dict) -> dict:
    return copy.deepcopy(event) | {"errorDeclaration": DECLARATION}


def test_a_recorders_error_declaration_is_kept_on_the_stored_event_and_its_anchor_holds(api):
    c, h = api
    wrong, right = _event("101"), _event("102")
    first = c.post("/v1/epcis/capture", json=_doc(wrong, right), headers=h["producer"])
    assert first.status_code == 201 and first.json()["stored"] == 2, first.text
    hid = first.json()["events"][0]["hashId"]
    assert c.post("/v1/epcis/anchor", headers=h["producer"]).status_code == 200

    r = c.post("/v1/epcis/capture", json=_doc(_declared(wrong)), headers=h["producer"])
    assert r.status_code == 201, r.text
    assert (r.json()["stored"], r.json()["declared"], r.json()["duplicates"]) == (0, 1, 0)
    assert r.json()["events"][0] == r.json()["events"][0] | {"hashId": hid, "status": "declared"}

    found = events_of(c.get("/epcis/events?EXISTS_errorDeclaration=", headers=h["auditor"]))
    assert [e["eventID"] for e in found] == [wrong["eventID"]] and found[0]["errorDeclaration"] == DECLARATION
    assert events_of(c.get("/epcis/events?EQ_errorReason=incorrect_data", headers=h["auditor"])) == found
    corrective = DECLARATION["correctiveEventIDs"][0]
    assert events_of(c.get(f"/epcis/events?EQ_correctiveEventID={corrective}", headers=h["auditor"])) == found
    # the right event is untouched; the declared one still verifies against the chain as anchored
    one = c.get(f"/v1/epcis/events/{hid.split(';')[1].split('?')[0]}", headers=h["auditor"]).json()
    assert one["event"]["errorDeclaration"] == DECLARATION and one["proof"]["status"] == "anchored", one
    checks = c.post("/v1/audit/verify/events", json=_doc(one["event"]), headers=h["auditor"])
    assert checks.status_code == 200 and checks.json()["ok"] is True, checks.text

    # sent again (or another declaration of it): a duplicate, the first declaration stays
    again = _declared(wrong) | {"errorDeclaration": DECLARATION | {"reason": "did_not_occur"}}
    r = c.post("/v1/epcis/capture", json=_doc(again), headers=h["producer"])
    assert r.status_code == 200 and (r.json()["declared"], r.json()["duplicates"]) == (0, 1), r.text
    assert events_of(c.get("/epcis/events?EXISTS_errorDeclaration=", headers=h["auditor"])) == found


def test_only_the_recorder_may_declare_its_event_erroneous_at_either_door(api):
    c, h = api
    theirs = _event("201")
    assert c.post("/v1/epcis/capture", json=_doc(theirs), headers=h["producer"]).status_code == 201
    mine = _event("202")  # a new event of the other member's, in the same document: nothing is stored
    r = c.post("/v1/epcis/capture", json=_doc(mine, _declared(theirs)), headers=h["logistics"])
    assert r.status_code == 403 and r.json()["error"] == "not_the_recorder", r.text
    r = c.post("/epcis/capture", json=_doc(_declared(theirs)), headers=h["logistics"])
    assert r.status_code == 403, r.text
    assert events_of(c.get("/epcis/events?EXISTS_errorDeclaration=", headers=h["auditor"])) == []
    assert events_of(c.get(f"/epcis/events?MATCH_epc={mine['epcList'][0]}", headers=h["auditor"])) == []


def test_a_document_holding_an_event_and_its_declaration_stores_it_declared(api):
    c, h = api
    event = _event("301")
    job = capture(c, h["producer"], _doc(event, _declared(event)))
    assert job["success"] is True and len(set(job["eventIDs"])) == 1, job
    found = events_of(c.get("/epcis/events?EXISTS_errorDeclaration=", headers=h["auditor"]))
    assert [e["eventID"] for e in found] == [event["eventID"]] and found[0]["errorDeclaration"] == DECLARATION


def test_an_event_id_two_members_declared_answers_both_oldest_first(api):
    """GET /epcis/events/{eventID}: a declared eventID is the capturer's word; another member declaring
    the same one for its own event does not take the first one's place (the answer was whichever row
    the database met first)."""
    c, h = api
    first, copycat = _event("401"), _event("402")
    copycat["eventID"] = first["eventID"]
    assert c.post("/v1/epcis/capture", json=_doc(first), headers=h["producer"]).status_code == 201
    assert c.post("/v1/epcis/capture", json=_doc(copycat), headers=h["logistics"]).status_code == 201
    got = events_of(c.get(f"/epcis/events/{first['eventID']}", headers=h["auditor"]))
    assert [e["epcList"] for e in got] == [first["epcList"], copycat["epcList"]], got
    mine = events_of(c.get(f"/epcis/events/{first['eventID']}", headers=h["producer"]))
    assert [e["epcList"] for e in mine] == [first["epcList"]]  # each member sees what it may see


def test_time_filters_given_in_beijing_time_mean_the_same_moment(api):
    """GE_/LT_ eventTime and recordTime in +08:00 select by the moment, not by the digits (SQLite keeps
    times as text in UTC: a bound in another zone was compared by its digits, eight hours off)."""
    from datetime import UTC, datetime, timedelta, timezone

    c, h = api
    event = _event("501") | {"eventTime": "2026-12-06T08:00:00.000+08:00"}  # 00:00 UTC
    assert c.post("/v1/epcis/capture", json=_doc(event), headers=h["producer"]).status_code == 201
    beijing = timezone(timedelta(hours=8))

    def found(**bounds) -> list:
        got = events_of(
            c.get("/epcis/events", params={"MATCH_epc": event["epcList"][0], **bounds}, headers=h["auditor"])
        )
        return [e["eventID"] for e in got]

    at = datetime(2026, 12, 6, 0, 0, tzinfo=UTC)
    assert found(GE_eventTime=(at - timedelta(minutes=1)).astimezone(beijing).isoformat()) == [event["eventID"]]
    assert found(GE_eventTime=(at + timedelta(minutes=1)).astimezone(beijing).isoformat()) == []
    assert found(LT_eventTime=(at + timedelta(minutes=1)).astimezone(beijing).isoformat()) == [event["eventID"]]
    now = datetime.now(UTC)
    assert found(GE_recordTime=(now - timedelta(minutes=5)).astimezone(beijing).isoformat()) == [event["eventID"]]
    assert found(GE_recordTime=(now + timedelta(minutes=5)).astimezone(beijing).isoformat()) == []
