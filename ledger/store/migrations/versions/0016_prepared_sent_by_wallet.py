"""A prepared transaction a member's wallet sent itself is submitted by its hash: each hash may
answer for one prepared transaction only.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("prepared_transactions", sa.Column("sent_tx", sa.String(66), nullable=True))
    op.create_index("ix_prepared_transactions_sent_tx", "prepared_transactions", ["sent_tx"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_prepared_transactions_sent_tx", "prepared_transactions")
    op.drop_column("prepared_transactions", "sent_tx")
