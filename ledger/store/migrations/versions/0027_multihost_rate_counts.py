"""Rate-limit counts in the database: API hosts sharing PostgreSQL without Redis count together.

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_counts",
        sa.Column("who", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.BigInteger(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_counts")
