"""A covering index for a scan's history: every scan reads count, first and last time per
network of one code; (code_id, network, at) answers that from the index alone.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_scans_code_network_at", "scans", ["code_id", "network", "at"])
    op.drop_index("ix_scans_code_id", table_name="scans")


def downgrade() -> None:
    op.create_index("ix_scans_code_id", "scans", ["code_id"])
    op.drop_index("ix_scans_code_network_at", table_name="scans")
