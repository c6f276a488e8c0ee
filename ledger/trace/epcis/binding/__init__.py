"""What the GS1 EPCIS 2.0 REST binding needs below the web layer: capture jobs (`capture_jobs`),
the SimpleEventQuery (`simple_query`, `event_match`, `event_pages`), master data (`master_data`),
named queries and their subscriptions (`named_queries`, `schedules`, `webhooks`, `webhook_dest`).
Part of `ledger.trace`: may import `ledger.chain`, `ledger.store`, `ledger.access` and the base modules.
"""
