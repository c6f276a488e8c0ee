"""Writes prepared for members who sign for themselves (`X-Ledger-Sign: self`).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prepared_transactions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("member", sa.String(42), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("tx", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_prepared_transactions_member", "prepared_transactions", ["member"])


def downgrade() -> None:
    op.drop_index("ix_prepared_transactions_member", "prepared_transactions")
    op.drop_table("prepared_transactions")
