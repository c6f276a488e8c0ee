"""The consumer scan: the route and its ASGI fast path (`routes`), the verdict (`verdict`), the
buffered writer of scan rows (`recorder`), scan statistics for merchants (`stats`). The page's HTML
and strings are `api.pages` and `api.page_text` (moving to templates with the console).

May import `api.core`, `api.access` and `ledger`; no other domain.
"""
