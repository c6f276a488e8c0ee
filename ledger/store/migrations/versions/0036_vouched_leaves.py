"""Leaves carriers vouched for on chain without an order here (`purchase_foreign_leaves`): the
tree's mirror keeps them beside the commitments that came with orders.

Revision ID: 0036
Revises: 0035
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "purchase_foreign_leaves",
        sa.Column("leaf_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("commitment", sa.String(78), nullable=False),
        sa.Column("vouch_tx", sa.String(66), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("purchase_foreign_leaves")
