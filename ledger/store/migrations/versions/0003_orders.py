"""Orders, idempotency keys and commission rules.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("order_key", sa.String(66), nullable=False, unique=True),
        sa.Column("merchant", sa.String(42), nullable=False, index=True),
        sa.Column("payer", sa.String(42), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("referrers", sa.Text, nullable=False),
        sa.Column("platform_fee_bps", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("escrow_tx", sa.String(66), nullable=False),
        sa.Column("close_tx", sa.String(66), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("amount_fen > 0", name="ck_orders_amount_positive"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("actor", sa.String(42), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "commission_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform_fee_bps", sa.Integer, nullable=False),
        sa.Column("referral_bps", sa.String(64), nullable=False),
        sa.Column("updated_by", sa.String(42), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("commission_rules", "idempotency_keys", "orders"):
        op.drop_table(table)
