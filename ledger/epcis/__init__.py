"""EPCIS 2.0 events: schema validation, CBV 2.0 event hash IDs, storage, queries and anchoring."""
