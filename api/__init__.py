"""traceledger HTTP API (FastAPI). `api.app:create_app()` builds it; `api.app:app` is the served instance."""
