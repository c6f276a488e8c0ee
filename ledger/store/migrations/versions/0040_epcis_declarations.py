"""Error declarations in the order made, and each subscription's cursor over them: a subscriber
gets a declared event again once it is declared.

Revision ID: 0040
Revises: 0039
"""

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "epcis_declarations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_epcis_declarations_event_id", "epcis_declarations", ["event_id"])
    op.add_column(
        "epcis_subscriptions", sa.Column("declared_cursor", sa.BigInteger(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("epcis_subscriptions") as t:
        t.drop_column("declared_cursor")
    op.drop_index("ix_epcis_declarations_event_id", "epcis_declarations")
    op.drop_table("epcis_declarations")
