"""Serialized codes and their anchored issues.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_issues",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("gtin", sa.String(14), nullable=False, index=True),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("merchant", sa.String(42), nullable=False, index=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("root", sa.String(66), nullable=False, unique=True),
        sa.Column("kid", sa.String(16), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("anchor_tx", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("issue_id", sa.Integer, sa.ForeignKey("code_issues.id"), nullable=False, index=True),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("serial", sa.String(20), nullable=False),
        sa.Column("leaf_index", sa.Integer, nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.UniqueConstraint("gtin", "lot", "serial", name="uq_codes_item"),
    )


def downgrade() -> None:
    op.drop_table("codes")
    op.drop_table("code_issues")
