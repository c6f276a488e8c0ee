"""Reading whole EPCIS documents with the garbage collector paused (`reading`, issue 31): the same
hash IDs as the collector running, the collector restored as it was (also after a parse that
raised, after nested and concurrent readers), and the capture doors reading documents this way."""

from __future__ import annotations

import gc
import json
import random
import threading
from pathlib import Path

import pytest

from ledger.trace.epcis import reading
from ledger.trace.epcis.hashid import document_hash_ids
from ledger.trace.epcis.samples import document

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "epcis").glob("**/*.jsonld"))


@pytest.fixture(autouse=True)
def _collector_restored():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_hash_ids_are_the_same_as_with_the_collector_running():
    raws = [p.read_bytes() for p in FIXTURES] + [
        json.dumps(document(random.Random(s), 50, urns=s % 2 == 0)).encode() for s in range(6)
    ]
    for raw in raws:
        assert reading.hash_ids(raw) == document_hash_ids(json.loads(raw))
        assert reading.parse(raw) == json.loads(raw)
    assert gc.isenabled()


def test_the_collector_is_paused_inside_and_restored_after_a_parse_that_raised():
    with reading.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError):
        reading.parse(b'{"epcisBody": ')
    assert gc.isenabled()
    gc.disable()  # a process that runs without the collector keeps it off
    reading.parse(b"{}")
    assert not gc.isenabled()


def test_nested_and_concurrent_readers_share_one_pause_and_the_last_one_restores_it():
    inside, release = threading.Event(), threading.Event()

    def reader():
        with reading.collector_paused():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=reader)
    t.start()
    assert inside.wait(10)
    with reading.collector_paused(), reading.collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other reader is still inside
    release.set()
    t.join(10)
    assert gc.isenabled()
