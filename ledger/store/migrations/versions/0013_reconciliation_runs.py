"""Reconciliation runs, chained, and the breaks they find with their history.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recon_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("previous_id", sa.Integer, sa.ForeignKey("recon_runs.id"), nullable=True),
        sa.Column("cut_off_block", sa.BigInteger, nullable=False),
        sa.Column("cut_off_hash", sa.String(66), nullable=False),
        sa.Column("inputs_sha256", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False, index=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("totals", sa.Text, nullable=False),
        sa.Column("balances", sa.Text, nullable=False),
        sa.Column("pending", sa.Text, nullable=False),
        sa.Column("ageing", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False, index=True),
    )
    op.create_table(
        "recon_breaks",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("rule", sa.String(60), nullable=False),
        sa.Column("cls", sa.String(40), nullable=False, index=True),
        sa.Column("priority", sa.Integer, nullable=False, index=True),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("subject", sa.String(66), nullable=False),
        sa.Column("merchant", sa.String(42), nullable=True),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("first_run", sa.Integer, sa.ForeignKey("recon_runs.id"), nullable=False),
        sa.Column("last_run", sa.Integer, sa.ForeignKey("recon_runs.id"), nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
    )
    op.create_table(
        "recon_break_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("break_id", sa.String(24), sa.ForeignKey("recon_breaks.id"), nullable=False, index=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("recon_runs.id"), nullable=False, index=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("cls", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", TS, nullable=False),
    )

    op.create_table(  # an orders CSV staged for one run, so that it is sorted by the database, not in memory
        "recon_input_orders",
        sa.Column("token", sa.String(32), primary_key=True),
        sa.Column("line", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("merchant", sa.String(42), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("order_key", sa.String(66), nullable=False),
    )
    op.create_index("ix_recon_input_orders_key", "recon_input_orders", ["token", "order_key", "line"])


def downgrade() -> None:
    op.drop_table("recon_input_orders")
    op.drop_table("recon_break_events")
    op.drop_table("recon_breaks")
    op.drop_table("recon_runs")
