"""Per code and network, how often and when it was scanned (`scan_stats`), written with the
scans: a scan reads one row per network instead of every earlier scan of its code. Filled from the
scans already stored; the covering index that served the old read gives way to one on code_id.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scan_stats",
        sa.Column(
            "code_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("codes.id"),
            primary_key=True,
        ),
        sa.Column("network", sa.String(16), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO scan_stats (code_id, network, count, first_at, last_at) "
        "SELECT code_id, network, count(*), min(at), max(at) FROM scans "
        "WHERE code_id IS NOT NULL GROUP BY code_id, network"
    )
    op.create_index("ix_scans_code_id", "scans", ["code_id"])
    op.drop_index("ix_scans_code_network_at", table_name="scans")


def downgrade() -> None:
    op.create_index("ix_scans_code_network_at", "scans", ["code_id", "network", "at"])
    op.drop_index("ix_scans_code_id", table_name="scans")
    op.drop_table("scan_stats")
