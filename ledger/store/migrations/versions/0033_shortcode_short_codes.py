"""Code issues printed as short codes (`ledger.trace.short_codes`): the signature's 80-bit tag on
the label instead of the key id and the whole signature.

Revision ID: 0033
Revises: 0032
"""

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("code_issues", sa.Column("short", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("code_issues") as t:
        t.drop_column("short")
