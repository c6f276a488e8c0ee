"""Shoppers' commitments to their purchase secrets, and their leaves in the tree of delivered
purchases, and verified buyers' reviews (issue 28).

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "purchase_commitments",
        sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.order_id"), primary_key=True),
        sa.Column("batch", sa.String(78), nullable=False),
        sa.Column("commitment", sa.String(78), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("leaf_index", sa.Integer(), nullable=True, unique=True),
        sa.Column("anchor_tx", sa.String(66), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_purchase_commitments_batch", "purchase_commitments", ["batch"])
    op.create_index("ix_purchase_commitments_state", "purchase_commitments", ["state"])
    op.create_table(
        "purchase_reviews",
        sa.Column("nullifier", sa.String(78), primary_key=True),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("tx", sa.String(66), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
    )
    op.create_index("ix_purchase_reviews_gtin", "purchase_reviews", ["gtin"])


def downgrade() -> None:
    op.drop_table("purchase_reviews")
    op.drop_table("purchase_commitments")
