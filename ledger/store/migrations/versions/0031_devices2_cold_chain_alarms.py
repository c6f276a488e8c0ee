"""Cold-chain alarms: an excursion raised by the ingester, the orders of its lot put on hold.

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "cold_chain_alarms",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(66), nullable=False, index=True),
        sa.Column("recorder", sa.String(42), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("gtin", sa.String(14), nullable=True, index=True),
        sa.Column("lot", sa.String(60), nullable=True),
        sa.Column("event_hash_id", sa.String(100), nullable=False),
        sa.Column("batch_sm3", sa.String(64), nullable=False),
        sa.Column("min_c", sa.Float(), nullable=False),
        sa.Column("max_c", sa.Float(), nullable=False),
        sa.Column("first_at", TS, nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="open", index=True),
        sa.Column("orders", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("problems", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("closed_at", TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("cold_chain_alarms")
