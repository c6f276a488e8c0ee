"""Compliance: the GB 32100 pilot allow-list, trading parties with their credit codes, each
event's completeness against the trace-record profile.

Revision ID: 0025
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0021"
branch_labels = None
depends_on = None
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "compliance_pilot_codes",
        sa.Column("code", sa.String(18), primary_key=True),
        sa.Column("note", sa.String(300), nullable=False),
        sa.Column("added_by", sa.String(42), nullable=False),
        sa.Column("added_at", TS, nullable=False),
    )
    op.create_table(
        "compliance_parties",
        sa.Column("urn", sa.String(300), primary_key=True),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("credit_status", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("contact", sa.String(100), nullable=False),
        sa.Column("member", sa.String(42), nullable=True),
        sa.Column("registered_by", sa.String(42), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_compliance_parties_credit_code", "compliance_parties", ["credit_code"])
    op.create_index("ix_compliance_parties_member", "compliance_parties", ["member"])
    op.create_table(
        "compliance_event_flags",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("epcis_events.id"),
            primary_key=True,
        ),
        sa.Column("profile", sa.String(20), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("missing", sa.Text, nullable=False),
        sa.Column("wrong", sa.Text, nullable=False),
        sa.Column("required", sa.Integer, nullable=False),
        sa.Column("checked_at", TS, nullable=False),
    )
    op.create_index("ix_compliance_event_flags_complete", "compliance_event_flags", ["complete"])


def downgrade() -> None:
    op.drop_table("compliance_event_flags")
    op.drop_index("ix_compliance_parties_member", "compliance_parties")
    op.drop_index("ix_compliance_parties_credit_code", "compliance_parties")
    op.drop_table("compliance_parties")
    op.drop_table("compliance_pilot_codes")
