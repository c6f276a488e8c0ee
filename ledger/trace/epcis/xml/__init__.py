"""EPCIS XML (2.0 and 1.2): a safe reader (`xml_parser`), the binding of XML documents to JSON-LD
events (`xml_binding`), the query document writer (`xml_writer`).
Part of `ledger.trace`: may import `ledger.chain`, `ledger.store`, `ledger.access` and the base modules.
"""
