"""The fault injector: a schedule drawn from a seed, each fault carried out on the stack and the
time the stack took to answer again measured.

Kinds: `kill_worker` (SIGKILL one API worker), `kill_anchorer` (SIGKILL the worker holding the
anchorer's lock), `kill_indexer`, `restart_postgres` (a fast shutdown and start), `stop_chain`
(SIGSTOP the node for longer than the write timeout, then SIGCONT), `fill_disk` (fill the data
filesystem for a while, then free it). Recovery is the time from the end of the fault until
/healthz answers 200 again and the part is back (a worker replaced, the indexer at the head).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import text

from ledger.store.db import make_engine

from .stack import TX_TIMEOUT_S, Stack

KINDS = ("kill_worker", "kill_anchorer", "kill_indexer", "restart_postgres", "stop_chain", "fill_disk")


@dataclass
class Fault:
    at_s: float
    kind: str
    detail: str = ""
    lasted_s: float = 0.0
    recovery_s: float | None = None


@dataclass
class Injector:
    stack: Stack
    seed: int
    duration_s: float
    faults: list[Fault] = field(default_factory=list)

    def schedule(self) -> list[Fault]:
        """Faults from 4 s in, 3-8 s apart, every kind once before any comes again."""
        rng = random.Random(self.seed)
        out, at, bag = [], 4.0, []
        while at < self.duration_s - 3:
            if not bag:
                bag = list(KINDS)
                rng.shuffle(bag)
            kind = bag.pop()
            if kind == "fill_disk" and not self.stack.tmpfs:
                continue  # no filesystem of our own to fill (not run as root)
            out.append(Fault(round(at, 2), kind))
            at += rng.uniform(3, 8)
        return out

    def run(self, stop: threading.Event) -> None:
        t0 = time.monotonic()
        for fault in self.schedule():
            if stop.wait(max(0.0, fault.at_s - (time.monotonic() - t0))):
                return
            started = time.monotonic()
            getattr(self, f"_{fault.kind}")(fault)
            ended = time.monotonic()
            fault.lasted_s = round(ended - started, 2)
            try:
                self._recovered(fault, 120)
                fault.recovery_s = round(time.monotonic() - ended, 2)
            except RuntimeError as exc:
                fault.detail += f"; not recovered: {exc}"
            self.faults.append(fault)

    # --- the faults -------------------------------------------------------------------------------------

    def _kill_worker(self, fault: Fault) -> None:
        workers = self.stack.workers()
        if workers:
            pid = random.Random(self.seed + len(self.faults)).choice(sorted(workers))
            os.kill(pid, signal.SIGKILL)
            fault.detail = f"worker {pid}"

    def _kill_anchorer(self, fault: Fault) -> None:
        pid = self.stack.anchor_leader()
        if pid is None:
            fault.detail = "no worker held the anchorer lock"
            return
        os.kill(pid, signal.SIGKILL)
        fault.detail = f"anchoring worker {pid}"

    def _kill_indexer(self, fault: Fault) -> None:
        proc = self.stack.procs["indexer"]
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        fault.detail = f"indexer {proc.pid}"

    def _restart_postgres(self, fault: Fault) -> None:
        pg = self.stack.pg
        assert pg is not None
        with self.stack.holding("postgres"):
            subprocess.run([*pg.as_user, pg._bin("pg_ctl"), "-D", str(pg.data), "-m", "fast", "-w", "stop"],
                           capture_output=True, check=False)  # fmt: skip
            pg.start()
        fault.detail = "fast shutdown, start"

    def _stop_chain(self, fault: Fault) -> None:
        pid = self.stack.procs["chain"].pid
        held = TX_TIMEOUT_S + 3
        os.kill(pid, signal.SIGSTOP)
        time.sleep(held)
        os.kill(pid, signal.SIGCONT)
        fault.detail = f"node stopped {held} s (writes time out after {TX_TIMEOUT_S} s)"

    def _fill_disk(self, fault: Fault) -> None:
        filler = self.stack.data / "filler"
        free = os.statvfs(self.stack.data).f_bavail * os.statvfs(self.stack.data).f_frsize
        with open(filler, "wb") as f, contextlib.suppress(OSError):
            chunk = b"\0" * (1 << 20)
            while True:
                f.write(chunk)
        time.sleep(4)
        filler.unlink()
        fault.detail = f"filled {free >> 20} MB for 4 s"

    # --- recovery ---------------------------------------------------------------------------------------

    def _recovered(self, fault: Fault, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.stack.wait_healthy(timeout)
        while time.monotonic() < deadline:
            if self._part_back(fault.kind):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{fault.kind}: the part was not back within {timeout:.0f} s")

    def _part_back(self, kind: str) -> bool:
        if kind in ("kill_worker", "kill_anchorer"):
            return len(self.stack.workers()) == 2 and (kind == "kill_worker" or self.stack.anchor_leader() is not None)
        if kind == "kill_indexer":
            return self.indexer_at_head()
        return True

    def indexer_at_head(self) -> bool:
        head = self.stack.w3.eth.block_number
        try:
            engine = make_engine(self.stack.db_url)
            with engine.connect() as c:
                done = c.execute(text("SELECT min(block_number) FROM indexer_checkpoints")).scalar()
            engine.dispose()
        except Exception:  # noqa: BLE001 - the database may be the part still coming back
            return False
        return done is not None and done >= head - 2
