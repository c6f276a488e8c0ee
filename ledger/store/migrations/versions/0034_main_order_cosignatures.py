"""Arbiters' co-signatures of rulings on disputed orders, collected across their browsers as those of
cases are.

Revision ID: 0034
Revises: 0033
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_ruling_cosignatures",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("refund_fen", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("signer", sa.String(42), primary_key=True),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("order_ruling_cosignatures")
