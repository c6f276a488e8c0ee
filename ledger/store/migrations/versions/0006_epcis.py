"""Captured EPCIS events, the identifiers they name, and the Merkle anchors over them.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "epcis_anchors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("root", sa.String(66), nullable=False, unique=True),
        sa.Column("leaf_count", sa.Integer, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("submitter", sa.String(42), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "epcis_events",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("hash_id", sa.String(100), nullable=False, unique=True),
        sa.Column("digest", sa.String(66), nullable=False),
        sa.Column("event_type", sa.String(24), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("record_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("biz_step", sa.String(200), nullable=True, index=True),
        sa.Column("disposition", sa.String(200), nullable=True),
        sa.Column("action", sa.String(8), nullable=True),
        sa.Column("read_point", sa.String(200), nullable=True),
        sa.Column("recorder", sa.String(42), nullable=False, index=True),
        sa.Column("merchant", sa.String(42), nullable=True, index=True),
        sa.Column("capture_id", sa.String(36), nullable=False, index=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("anchor_id", sa.Integer, sa.ForeignKey("epcis_anchors.id"), nullable=True),
        sa.Column("leaf_index", sa.Integer, nullable=True),
    )
    op.create_table(
        "epcis_epcs",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("event_id", BIGID, sa.ForeignKey("epcis_events.id"), nullable=False, index=True),
        sa.Column("uri", sa.String(300), nullable=False, index=True),
        sa.Column("gtin", sa.String(14), nullable=True),
        sa.Column("lot", sa.String(60), nullable=True),
        sa.Column("serial", sa.String(60), nullable=True),
    )
    op.create_index("ix_epcis_epcs_gtin_lot", "epcis_epcs", ["gtin", "lot"])
    # pending events are found by this partial scan: anchor_id IS NULL, oldest first
    op.create_index("ix_epcis_events_pending", "epcis_events", ["anchor_id", "id"])


def downgrade() -> None:
    op.drop_table("epcis_epcs")
    op.drop_table("epcis_events")
    op.drop_table("epcis_anchors")
