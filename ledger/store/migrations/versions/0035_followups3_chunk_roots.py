"""Chunk roots of the tree of delivered purchases (`ledger.privacy.chunk_store`): a restarted
server reads them instead of hashing a million leaves again; and shoppers' proven disputes, each
with the vault case it opened and the statement arbiters read.

Revision ID: 0035
Revises: 0034
"""

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "purchase_chunk_roots",
        sa.Column("chunk", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("root", sa.String(78), nullable=False),
    )
    op.create_table(
        "purchase_disputes",
        sa.Column("case_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("statement", sa.String(2000), nullable=False),
        sa.Column("tx", sa.String(66), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
    )
    op.create_index("ix_purchase_disputes_gtin", "purchase_disputes", ["gtin"])


def downgrade() -> None:
    op.drop_table("purchase_disputes")
    op.drop_table("purchase_chunk_roots")
