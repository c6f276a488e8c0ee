"""A code issue is stored before its root is anchored, and learns its transaction after: a write
whose answer was lost (the node stopped, the process died) is then completed or undone from the
chain instead of leaving a root on chain that no stored issue explains.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("code_issues") as b:
        b.alter_column("anchor_tx", existing_type=sa.String(66), nullable=True)
        b.alter_column("block_number", existing_type=sa.BigInteger, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM codes WHERE issue_id IN (SELECT id FROM code_issues WHERE anchor_tx IS NULL)")
    op.execute("DELETE FROM code_issues WHERE anchor_tx IS NULL")
    with op.batch_alter_table("code_issues") as b:
        b.alter_column("anchor_tx", existing_type=sa.String(66), nullable=False)
        b.alter_column("block_number", existing_type=sa.BigInteger, nullable=False)
