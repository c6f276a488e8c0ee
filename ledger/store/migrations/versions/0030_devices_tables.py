"""Devices: registered devices (sealed PSK), their signed batches (accepted or refused), readings.

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(66), primary_key=True),
        sa.Column("giai", sa.String(30), nullable=False, unique=True),
        sa.Column("identity", sa.String(64), nullable=False, unique=True),
        sa.Column("owner", sa.String(42), nullable=False, index=True),
        sa.Column("public_key", sa.String(130), nullable=False),
        sa.Column("psk_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("registered_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_seen_at", TS, nullable=True),
    )
    op.create_table(
        "device_batches",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("identity", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(66), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("sm3", sa.String(64), nullable=True),
        sa.Column("signature", sa.String(128), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("event_ids", sa.Text(), nullable=True),
    )
    op.create_index("ix_device_batches_identity_status", "device_batches", ["identity", "status"])
    op.create_index("ix_device_batches_device_seq", "device_batches", ["device_id", "seq"])
    op.create_table(
        "device_readings",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("batch_id", ID, sa.ForeignKey("device_batches.id"), nullable=False, index=True),
        sa.Column("device_id", sa.String(66), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("uom", sa.String(8), nullable=True),
        sa.Column("epc", sa.String(300), nullable=True),
        sa.Column("subject", sa.String(300), nullable=True),
    )
    op.create_index("ix_device_readings_device_at", "device_readings", ["device_id", "at"])
    op.create_table(
        "cold_chain_rules",
        sa.Column("gtin", sa.String(14), primary_key=True),
        sa.Column("min_c", sa.Float(), nullable=True),
        sa.Column("max_c", sa.Float(), nullable=True),
        sa.Column("grace_minutes", sa.Float(), nullable=False, server_default="0"),
        sa.Column("set_by", sa.String(42), nullable=False),
        sa.Column("set_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cold_chain_rules")
    op.drop_table("device_readings")
    op.drop_table("device_batches")
    op.drop_table("devices")
