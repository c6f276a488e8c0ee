"""The one lock helper: mutual exclusion and leadership across the processes of a deployment.

- `exclusive(name)`: wait for the lock, hold it while the block runs (a signing key's nonces,
  anchoring). Threads of one process queue on a lock in the process first, so each process holds
  at most one database connection per lock.
- `lease(name)`: leadership of a background loop (anchorer, webhooks, code-issue catch-up). The
  loop calls `leads()` before each round: it takes the lease when it is free and checks that it
  still holds it; a holder that dies (killed, its host gone) frees it for the next one to ask.

On PostgreSQL both are advisory locks, so API hosts that share only the database take turns: an
exclusive lock lives in a transaction (`pg_advisory_xact_lock`), a lease in a session of its own
(`pg_try_advisory_lock`) that PostgreSQL ends, and with it the lease, when the holder's connection
closes; TCP keepalives (on both ends) bound that to ~15 s for a host that vanishes without closing
it. Keys are named per schema, so deployments sharing a database never share locks. On SQLite
(one host) they are `flock` locks on files in `lock_dir`; the lease holder writes its pid there.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: libpq's TCP keepalives on lock connections: a peer gone silent is noticed in ~5 + 2*3 s while
#: idle, and a query the peer does not acknowledge fails after 10 s (a leader cut off from the
#: database stops leading in about the time PostgreSQL takes to free its lease)
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
#: the same on the server's end (per session), so PostgreSQL frees a vanished host's leases
SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 5", "SET tcp_keepalives_interval = 2", "SET tcp_keepalives_count = 3")
#: a lease holder checks its session this often (seconds) while it leads; a process that does
#: not lead asks again this often (so leadership moves within about this long of a holder's end)
CHECK_EVERY_S = 1.0
RETRY_EVERY_S = 0.5


@contextlib.contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[IO[str] | None]:
    """An exclusive `flock` on `path` (made if missing) for the block; without `blocking`, the
    open file if taken, None if another holds it. Released when the file closes."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield f


@contextlib.contextmanager
def one_writer(db: Session) -> Iterator[None]:
    """SQLite has one writer at a time. The bulk writers (captures, the anchorer) of all threads
    and processes queue on a file lock beside the database, and the next one starts the moment the
    last one is done; left to SQLite's busy handler they would poll with sleeps growing to 100 ms
    (a capture holding the queue while it slept). Elsewhere (PostgreSQL, an in-memory database): nothing."""
    url = db.get_bind().url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    with file_lock(Path(f"{url.database}.write.lock")):  # one open file per writer: threads queue too
        yield


class Locks:
    """Locks for one deployment: its database `engine`; `lock_dir` for SQLite's lock files."""

    def __init__(self, engine: Engine, lock_dir: Path):
        self.lock_dir = lock_dir
        self.shared = engine.dialect.name == "postgresql"
        self._url = engine.url
        self._engine: Engine | None = None
        self._schema: str | None = None
        self._local: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def engine(self) -> Engine:
        """Connections of the locks' own (so a lock never waits for the request pool)."""
        with self._guard:
            if self._engine is None:
                self._engine = create_engine(
                    self._url, pool_size=2, max_overflow=30, pool_pre_ping=True, connect_args=dict(KEEPALIVES)
                )
            return self._engine

    def key(self, name: str) -> int:
        """The advisory lock key of `name`: 64 bits of SHA-256 of the schema and the name."""
        if self._schema is None:
            with self.engine.connect() as conn:
                self._schema = str(conn.execute(text("SELECT current_schema()")).scalar())
        digest = hashlib.sha256(f"traceledger:{self._schema}:{name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def path(self, name: str) -> Path:
        return self.lock_dir / f"{name}.lock"

    def _local_lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._local.setdefault(name, threading.Lock())

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold `name` for the block, against every thread and process of the deployment."""
        with self._local_lock(name):
            if not self.shared:
                with file_lock(self.path(name)):
                    yield
                return
            key = self.key(name)
            with self.engine.begin() as conn:  # released when the transaction ends, however it ends
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                yield

    @contextlib.contextmanager
    def exclusive_all(self, names: Sequence[str]) -> Iterator[None]:
        """Hold every one of `names` for the block, taken in the order given (callers sort them, so
        that no two holders wait on each other); on PostgreSQL on one connection: 64 at once, one
        connection each, outran the locks' pool."""
        with contextlib.ExitStack() as stack:
            for name in names:
                stack.enter_context(self._local_lock(name))
            if not self.shared:
                for name in names:
                    stack.enter_context(file_lock(self.path(name)))
            else:
                conn = stack.enter_context(self.engine.begin())  # released when the transaction ends
                for name in names:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.key(name)})
            yield

    def lease(self, name: str) -> Lease:
        return Lease(self, name)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


class Lease:
    """Leadership of loop `name`: `leads()` takes it when free and tells whether it is held."""

    def __init__(self, locks: Locks, name: str):
        self.locks, self.name = locks, name
        self._held: Any = None  # the open lock file, or the PostgreSQL connection holding the lock
        self._checked = self._tried = -1e9
        self.since: float | None = None  # time.monotonic() when taken

    def leads(self) -> bool:
        """Whether this process leads now (taking the lease if it is free)."""
        if self._held is None and time.monotonic() - self._tried < RETRY_EVERY_S:
            return False
        try:
            if self._held is not None:
                return self._check()
            self._tried = time.monotonic()
            return self._take()
        except Exception as exc:  # noqa: BLE001 - the database is away: nobody leads from here
            log.warning("lease %s: %s", self.name, str(exc).splitlines()[0][:200] if str(exc) else exc)
            self.release()
            return False

    def _take(self) -> bool:
        if not self.locks.shared:
            import fcntl

            path = self.locks.path(self.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            f = open(path, "a+")  # noqa: SIM115 - held while leading
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                return False
            self._held = f
        else:
            key = self.locks.key(self.name)
            conn = self.locks.engine.connect()
            try:
                took = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
                if took:  # its session is the lease: named for operators, watched by keepalives
                    for statement in SERVER_KEEPALIVES:
                        conn.exec_driver_sql(statement)
                    conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": self._who()})
                conn.commit()
            except BaseException:
                conn.invalidate()
                conn.close()
                raise
            if not took:
                conn.close()
                return False
            self._held = conn
            with contextlib.suppress(OSError):  # who leads, for operators on this host (and the soak)
                self.locks.path(self.name).parent.mkdir(parents=True, exist_ok=True)
                self.locks.path(self.name).write_text(str(os.getpid()))
        if not self.locks.shared:
            self._held.truncate(0)
            self._held.write(str(os.getpid()))
            self._held.flush()
        self.since = self._checked = time.monotonic()
        log.info("lease %s taken by process %d", self.name, os.getpid())
        return True

    def _who(self) -> str:
        return f"traceledger {self.name} pid {os.getpid()}"[:63]

    def _check(self) -> bool:
        if not self.locks.shared or time.monotonic() - self._checked < CHECK_EVERY_S:
            return True
        self._held.execute(text("SELECT 1")).scalar()  # the session, and with it the lock, is alive
        self._held.commit()
        self._checked = time.monotonic()
        return True

    def release(self) -> None:
        """Give the lease up (a closed PostgreSQL session holds no lock)."""
        held, self._held, self.since = self._held, None, None
        if held is None:
            return
        with contextlib.suppress(Exception):
            if self.locks.shared:  # unlocked before the session closes: the server ends a closed
                # session when it notices, so another host asking at once could still find it held
                held.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.locks.key(self.name)})
                held.commit()
        with contextlib.suppress(Exception):
            if self.locks.shared:
                held.invalidate()  # closed, not returned to the pool still holding the lock
            held.close()
