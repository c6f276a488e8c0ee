"""The database: SQLite in the data dir by default, any SQLAlchemy URL by `LEDGER_DATABASE_URL`
(e.g. `postgresql+psycopg://127.0.0.1:5432/test`)."""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine, text

from .paths import data_dir


def database_url() -> str:
    url = os.environ.get("LEDGER_DATABASE_URL")
    if url:
        return url
    d = data_dir()
    d.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{d / 'ledger.sqlite3'}"


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    kwargs: dict[str, object] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
    return create_engine(url, **kwargs)


def ping(engine: Engine) -> str:
    """Run a trivial query; return the dialect name. Raises on an unreachable database."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return engine.dialect.name
