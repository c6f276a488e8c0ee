"""PACT partners (base URL, client credentials with the secret sealed) and the requests received
from them, answered by the worker with RequestFulfilled / RequestRejected events.

Revision ID: 0039
Revises: 0038
"""

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "carbon_partners",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("member", sa.String(42), nullable=False),
        sa.Column("base_url", sa.String(300), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("member", "base_url"),
    )
    op.create_index("ix_carbon_partners_member", "carbon_partners", ["member"])
    op.create_table(
        "carbon_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("member", sa.String(42), nullable=False),
        sa.Column("partner_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reply_id", sa.String(36), nullable=False),
        sa.Column("footprints", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", TS, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.UniqueConstraint("source", "event_id"),
    )
    op.create_index("ix_carbon_requests_member", "carbon_requests", ["member"])
    op.create_index("ix_carbon_requests_status", "carbon_requests", ["status"])


def downgrade() -> None:
    op.drop_table("carbon_requests")
    op.drop_table("carbon_partners")
