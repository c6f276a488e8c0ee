"""Orders through delivery, the return window, refunds and disputes; keyed order commitments and
the settlement slots the platform's open orders occupy on chain.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("orders") as b:
        b.add_column(sa.Column("salt", sa.String(66), nullable=True))
        b.add_column(sa.Column("slot", sa.BigInteger, nullable=True))
        b.add_column(sa.Column("carrier", sa.String(42), nullable=True))
        b.add_column(sa.Column("shopper", sa.String(128), nullable=True))
        b.add_column(sa.Column("refunded_fen", sa.BigInteger, nullable=False, server_default="0"))
        b.add_column(sa.Column("settle_after", TS, nullable=True))
        b.add_column(sa.Column("window_ends_at", TS, nullable=True))
        b.add_column(sa.Column("delivery_event", sa.String(128), nullable=True))
        b.add_column(sa.Column("history", sa.Text, nullable=False, server_default="[]"))
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_table(
        "settlement_slots",
        sa.Column("slot", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("holder", sa.String(66), nullable=True, unique=True),
    )


def downgrade() -> None:
    op.drop_table("settlement_slots")
    op.drop_index("ix_orders_status", "orders")
    with op.batch_alter_table("orders") as b:
        for c in (
            "history",
            "delivery_event",
            "window_ends_at",
            "settle_after",
            "refunded_fen",
            "shopper",
            "carrier",
            "slot",
            "salt",
        ):
            b.drop_column(c)
