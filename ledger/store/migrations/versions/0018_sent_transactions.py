"""Every transaction hash that answered for a write, whichever path sent it: a hash answers for
one write, ever.

Revision ID: 0018
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sent_transactions",
        sa.Column("tx_hash", sa.String(66), primary_key=True),
        sa.Column("sent_by", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sent_transactions")
