"""The database: SQLite in the data dir by default, any SQLAlchemy URL by `LEDGER_DATABASE_URL`
(e.g. `postgresql+psycopg://127.0.0.1:5432/test`). The schema is owned by Alembic migrations
in `ledger/store/migrations`, applied by `migrate()` (run at API start and by `ledger migrate`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Executable, create_engine, event, text
from sqlalchemy.orm import sessionmaker

from ledger.config import env
from ledger.paths import consortium, data_dir, network_dir

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url() -> str:
    url = env().database_url
    if url:
        return url
    d = network_dir() if consortium() else data_dir()
    d.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{d / 'ledger.sqlite3'}"


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    if url.startswith("sqlite"):
        # up to 40 requests run at once in the API's thread pool: a connection for each, kept open
        # (an overflow connection would be opened, set up and closed again for every request)
        # last in, first out: the event loop's reads (one at a time) keep taking the connection whose
        # SQLite page cache is warm, instead of cycling through all 40
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=40,
            max_overflow=10,
            pool_use_lifo=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20, pool_use_lifo=True)


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


MIGRATION_LOCK_ID = 0x7472_6163  # PostgreSQL advisory lock key ("trac")


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (idempotent). Processes starting together (API
    workers) take turns: the first migrates, the others find the schema current."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # the driver runs DDL outside transactions, so a migration killed half way would leave
            # half a schema: take the transaction into our own hands for the migration
            dbapi = conn.connection.dbapi_connection
            dbapi.isolation_level = None
            # altering a column rebuilds its table, and dropping a table others refer to would trip
            # their foreign keys: SQLite's own recipe is keys off for the change, checked before commit
            dbapi.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if sqlite:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_ID})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                    raise RuntimeError(f"migration to {revision} broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                dbapi.execute("PRAGMA foreign_keys=ON")
                dbapi.isolation_level = ""


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive file lock beside a SQLite database file (PostgreSQL locks in the database)."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    from .locks import file_lock

    with file_lock(Path(f"{path}.migrate.lock")):
        yield


def ping(engine: Engine) -> str:
    """Run a trivial query; return the dialect name. Raises on an unreachable database."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return engine.dialect.name


class DriverStatement:
    """A Core statement compiled once for an engine's dialect and run on the driver's cursor.

    For the hottest paths only (a scan's lookup, the scan writer): SQLAlchemy's execution around a
    ~20 µs indexed SQLite read cost more than the read. Parameters and result columns go through
    the column types' processors as SQLAlchemy would apply them (SQLite keeps times as text).

    On SQLite, `fetchall` reads on a connection each thread keeps for it, out of the pool: taking
    one from the pool and giving it back cost a fifth of a scan's lookup (py-spy). Each read is a
    transaction of its own (ended before `fetchall` returns), so a kept connection sees every commit.
    """

    def __init__(self, engine: Engine, statement: Executable):
        self.engine = engine
        self._kept = threading.local() if engine.dialect.name == "sqlite" else None
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self._names = compiled.positiontup  # None for named parameter styles (psycopg)
        self._defaults = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        self._processors = {
            name: proc
            for name, bind in compiled.binds.items()
            if (proc := bind.type.dialect_impl(engine.dialect).bind_processor(engine.dialect))
        }
        columns = getattr(statement, "selected_columns", ())
        self._results = [
            (i, proc)
            for i, col in enumerate(columns)
            if (proc := col.type.dialect_impl(engine.dialect).result_processor(engine.dialect, None))
        ]

    def args(self, params: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = self._defaults | params
        for name, proc in self._processors.items():
            values[name] = proc(values[name])
        return values if self._names is None else tuple(values[name] for name in self._names)

    def fetchall(self, params: dict[str, Any]) -> list[tuple]:
        kept = self._kept is not None and getattr(self._kept, "conn", None)
        conn = kept or self.engine.raw_connection()
        try:
            cur = conn.cursor()
            cur.execute(self.sql, self.args(params))
            rows = cur.fetchall()
            cur.close()
            conn.rollback()  # end the read transaction the driver may have begun (psycopg does)
        except BaseException:
            conn.close()  # a kept one too: the next read opens another
            if self._kept is not None:
                self._kept.conn = None
            raise
        if self._kept is None:
            conn.close()  # back to the pool
        elif not kept:
            conn.detach()  # this thread's from now on; closed when the thread ends
            self._kept.conn = conn
        if not self._results:
            return [tuple(row) for row in rows]
        out = []
        for row in rows:
            values = list(row)
            for i, proc in self._results:
                values[i] = proc(values[i])
            out.append(tuple(values))
        return out


def write_together(engine: Engine, work: Sequence[tuple[DriverStatement, list[dict[str, Any]]]]) -> None:
    """Each statement run over its rows, all in one transaction: committed, or nothing on an error."""
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        for statement, rows in work:
            if rows:
                cur.executemany(statement.sql, [statement.args(row) for row in rows])
        cur.close()
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
