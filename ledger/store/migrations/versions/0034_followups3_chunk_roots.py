"""Chunk roots of the tree of delivered purchases (`ledger.privacy.chunk_store`): a restarted
server reads them instead of hashing a million leaves again.

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
        "purchase_chunk_roots",
        sa.Column("chunk", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("root", sa.String(78), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("purchase_chunk_roots")
