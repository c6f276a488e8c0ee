"""Hash IDs of EPCIS documents by the reference implementation (PyPI `epcis-event-hash-generator`).

Runs in its own environment (`make .venv-epcis-ref`), never imported by the project:
    .venv-epcis-ref/bin/python tools/epcis_reference_hashes.py < documents.json
reads a JSON list of EPCIS documents (JSON-LD objects, or `{"xml": "<epcis:EPCISDocument ...>"}` for
XML documents) and prints a JSON list with, per document, the list of [hash_id, pre-hash string]
of its events.
"""

import json
import logging
import sys

from epcis_event_hash_generator import hash_generator, json_to_py, xml_to_py

logging.disable(logging.CRITICAL)


def main() -> None:
    out = []
    for doc in json.load(sys.stdin):
        json_to_py._namespaces.clear()  # the reference keeps prefixes in a module global
        if isinstance(doc, dict) and set(doc) == {"xml"}:
            events = xml_to_py.event_list_from_epcis_document_str(doc["xml"])
        else:
            events = json_to_py.event_list_from_epcis_document_json(doc)
        pre = hash_generator.derive_prehashes_from_events(events, "")
        out.append([[h, p] for h, p in zip(hash_generator.calculate_hashes_from_pre_hashes(pre), pre, strict=True)])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
