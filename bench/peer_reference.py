"""GS1's reference implementation (PyPI `epcis-event-hash-generator`) timed for bench/peers.py.

Runs in its own environment, never imported by the project:
    .venv-epcis-ref/bin/python bench/peer_reference.py WARMUP_LIST TIMED_LIST
Each list names one EPCIS 2.0 JSON-LD document a line. The first list's documents are hashed
untimed, then the clock runs over the second's (file read, parse, hash IDs, one thread). Prints a
JSON object: {"seconds": s, "documents": [[hash ID, ...] or {"error": "..."} per timed document]}.
"""

import json
import logging
import sys
import time
from pathlib import Path

from epcis_event_hash_generator import hash_generator, json_to_py

logging.disable(logging.CRITICAL)


def hashes(path: str):
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
        json_to_py._namespaces.clear()  # the reference keeps prefixes in a module global
        events = json_to_py.event_list_from_epcis_document_json(doc)
        return hash_generator.calculate_hashes_from_pre_hashes(hash_generator.derive_prehashes_from_events(events, ""))
    except Exception as exc:  # noqa: BLE001 (a peer's failure on a document is a disagreement, not a crash)
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def main() -> None:
    warm, timed = (Path(p).read_text().split() for p in sys.argv[1:3])
    for path in warm:
        hashes(path)
    t = time.perf_counter()
    out = [hashes(path) for path in timed]
    print(json.dumps({"seconds": time.perf_counter() - t, "documents": out}))


if __name__ == "__main__":
    main()
