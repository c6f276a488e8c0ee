"""EPCIS 2.0 JSON Schema validation: GS1's examples pass unchanged; broken documents are refused
whole with the JSON path and reason of each problem."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from ledger.trace.epcis.samples import document
from ledger.trace.epcis.schema import InvalidEpcis, check_capture, problems

EXAMPLES = sorted((Path(__file__).parents[1] / "fixtures" / "epcis").glob("Example_*.jsonld"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_gs1_examples_are_valid(path):
    doc = json.loads(path.read_text())
    assert problems(doc) == []
    _, events = check_capture(doc)
    assert events == doc["epcisBody"]["eventList"]


def test_generated_documents_are_valid():
    for seed in range(50):
        doc = document(random.Random(seed), 3)
        assert problems(doc) == [], seed


def test_every_problem_is_reported_with_its_path():
    doc = json.loads(EXAMPLES[0].read_text())
    bad = copy.deepcopy(doc)
    events = bad["epcisBody"]["eventList"]
    del events[0]["action"]
    events[0]["epcList"] = "urn:epc:id:sgtin:0614141.107346.2017"
    events[1]["eventTime"] = "yesterday"
    events[1]["bizStep"] = "not a step"
    with pytest.raises(InvalidEpcis) as err:
        check_capture(bad)
    found = {p["path"]: p["reason"] for p in err.value.problems}
    assert found["$.epcisBody.eventList[0].action"] == "required member is missing"
    assert "is not of type 'array'" in found["$.epcisBody.eventList[0].epcList"]
    assert "date-time" in found["$.epcisBody.eventList[1].eventTime"]
    assert "$.epcisBody.eventList[1].bizStep" in found
    assert str(err.value).startswith("not a valid EPCIS 2.0 document: $.epcisBody")


def test_a_time_without_zone_is_refused():
    doc = json.loads(EXAMPLES[0].read_text())
    doc["epcisBody"]["eventList"][0]["eventTime"] = "2005-04-03T20:33:31.116"
    assert [p["path"] for p in problems(doc)] == ["$.epcisBody.eventList[0].eventTime"]


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999-14:00"])
def test_a_time_before_year_1_or_after_9999_in_utc_is_refused_at_its_path(time):
    """Well formed, but no time in UTC: hashing it (times are hashed in UTC) was a 500 at every door."""
    from ledger.trace.epcis.hashid import document_digests

    doc = json.loads(EXAMPLES[0].read_text())
    event = doc["epcisBody"]["eventList"][0]
    event["eventTime"] = time
    event["sensorElementList"] = [{"sensorReport": [{"type": "gs1:Temperature", "value": 1, "time": time}]}]
    assert sorted(p["path"] for p in problems(doc)) == [
        "$.epcisBody.eventList[0].eventTime",
        "$.epcisBody.eventList[0].sensorElementList[0].sensorReport[0].time",
    ]
    event["eventTime"] = event["sensorElementList"][0]["sensorReport"][0]["time"] = time.replace("-14:00", "+14:00")
    if time.startswith("9999"):  # the same wall time east of UTC is in range: kept, and hashed
        assert problems(doc) == [] and document_digests(doc)


def test_a_bare_event_is_captured_as_a_document_of_one():
    doc = json.loads(EXAMPLES[0].read_text())
    event = dict(doc["epcisBody"]["eventList"][0], **{"@context": doc["@context"]})
    wrapped, events = check_capture(event)
    assert wrapped["@context"] == doc["@context"]
    assert "@context" not in events[0] and events[0]["eventTime"] == event["eventTime"]


@pytest.mark.parametrize(
    "body, path",
    [
        ([], "$"),
        ({"type": "Nonsense"}, "$.type"),
        ({"type": "ObjectEvent", "eventTime": "2026-11-24T08:00:00Z"}, "$"),  # no @context, no action...
    ],
)
def test_what_is_no_epcis_at_all_is_refused(body, path):
    with pytest.raises(InvalidEpcis) as err:
        check_capture(body)
    assert any(p["path"].startswith(path) for p in err.value.problems)
