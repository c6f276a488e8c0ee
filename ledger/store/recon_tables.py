"""Reconciliation runs and the breaks they find, kept across runs. Re-exported by `models`.

A run is chained to the one before it and names the hash of its inputs; a break has a stable id
(from the order key, or the contract, and the rule it broke), a priority, a status (new,
persisting, resolved) and, in `recon_break_events`, its history run by run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ReconRun(Base):
    __tablename__ = "recon_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("recon_runs.id"), nullable=True)
    cut_off_block: Mapped[int] = mapped_column(BigInteger)
    cut_off_hash: Mapped[str] = mapped_column(String(66))
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(200))
    reasons: Mapped[str] = mapped_column(Text)  # JSON: why it could not conclude
    totals: Mapped[str] = mapped_column(Text)  # JSON: per class, count and fen
    balances: Mapped[str] = mapped_column(Text)  # JSON: per contract, the statement
    pending: Mapped[str] = mapped_column(Text)  # JSON: pending rows and when they become breaks
    ageing: Mapped[str] = mapped_column(Text)  # JSON: money held, with ages against limits
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# each run names a previous run of its source that no other run names: runs started together cannot fork the chain
Index("ix_recon_runs_one_next", ReconRun.source, func.coalesce(ReconRun.previous_id, 0), unique=True)


class ReconBreak(Base):
    __tablename__ = "recon_breaks"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    rule: Mapped[str] = mapped_column(String(60))
    cls: Mapped[str] = mapped_column(String(40), index=True)
    priority: Mapped[int] = mapped_column(Integer, index=True)
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject: Mapped[str] = mapped_column(String(66))  # the order key, or the contract
    merchant: Mapped[str | None] = mapped_column(String(42), nullable=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), index=True)  # new | persisting | resolved
    first_run: Mapped[int] = mapped_column(ForeignKey("recon_runs.id"))
    last_run: Mapped[int] = mapped_column(ForeignKey("recon_runs.id"))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the highest cut-off a run saw it at: only a run at or after it may resolve it
    seen_to_block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ReconBreakEvent(Base):
    __tablename__ = "recon_break_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    break_id: Mapped[str] = mapped_column(ForeignKey("recon_breaks.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("recon_runs.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    cls: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReconInputOrder(Base):
    """An orders CSV staged for one run (`token`), sorted by the database instead of in memory."""

    __tablename__ = "recon_input_orders"
    __table_args__ = (Index("ix_recon_input_orders_key", "token", "order_key", "line"),)
    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    line: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_id: Mapped[str] = mapped_column(String(64))
    merchant: Mapped[str] = mapped_column(String(42))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32))
    order_key: Mapped[str] = mapped_column(String(66))


class ReconSignOff(Base):
    """An auditor's sign-off of a run: its EIP-712 signature over the run's inputs and verdict, made
    with the auditor's own key. One per run (the primary key): a run is never signed off twice."""

    __tablename__ = "recon_signoffs"
    run_id: Mapped[int] = mapped_column(ForeignKey("recon_runs.id"), primary_key=True, autoincrement=False)
    auditor: Mapped[str] = mapped_column(String(42), index=True)
    signature: Mapped[str] = mapped_column(String(132))
    note: Mapped[str] = mapped_column(String(500))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
