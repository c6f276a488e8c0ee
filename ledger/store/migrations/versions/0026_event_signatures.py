"""Compliance: the recording member's electronic signature (EIP-191) over each event's hash ID.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compliance_event_signatures",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("epcis_events.id"),
            primary_key=True,
        ),
        sa.Column("signer", sa.String(42), nullable=False),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("compliance_event_signatures")
