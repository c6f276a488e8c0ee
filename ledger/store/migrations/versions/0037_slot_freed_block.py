"""The block a settlement slot was freed in (`settlement_slots.freed_block`): a freed slot is
reused only once that block is final.

Revision ID: 0037
Revises: 0036
"""

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("settlement_slots", sa.Column("freed_block", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("settlement_slots") as batch:
        batch.drop_column("freed_block")
