"""The GS1 EPCIS 2.0 REST binding (GS1's OpenAPI document, served under `/epcis/`): its protocol
rules (`protocol`: headers, problem+json, paging, content negotiation), capture jobs
(`capture`), events and their queries (`events`), named queries and subscriptions (`queries`,
`sockets`), and uvicorn's WebSocket handshake answered as a problem (`ws_handshake`).

May import `api.epcis`, `api.core`, `api.access` and `ledger`.
"""
