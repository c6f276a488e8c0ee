"""The pages people read: the web console (a page per role, `router.py`, `templates/`, `static/`)
and the consumer's scan page (`scan_page.py`), with their words in gettext catalogs and one
language negotiation (`ledger.i18n`, `ledger/locale/`: shared with every page and report).

May import: the API's shell (`api.auth`, `api.errors`, `api.services`) and `ledger.chain` (the
explorer's record kinds, the governance actions the proposal form builds); no other API domain.
The scan page takes its facts ready-made from the resolver, which imports it, not the reverse."""
