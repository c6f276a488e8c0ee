"""Links merchants register for the GS1 Digital Link resolver, per GTIN, lot or serial.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resolver_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("gtin", sa.String(14), sa.ForeignKey("products.gtin"), nullable=False, index=True),
        sa.Column("lot", sa.String(20), nullable=True),
        sa.Column("serial", sa.String(20), nullable=True),
        sa.Column("link_type", sa.String(200), nullable=False),
        sa.Column("href", sa.String(2000), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("hreflang", sa.String(200), nullable=True),
        sa.Column("context", sa.String(100), nullable=True),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("merchant", sa.String(42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("resolver_links")
