"""The chain indexer: decoded events (exactly once), block hashes for reorgs, checkpoints.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False, index=True),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("contract", sa.String(40), nullable=False),
        sa.Column("event", sa.String(60), nullable=False, index=True),
        sa.Column("key", sa.String(66), nullable=True, index=True),
        sa.Column("args", sa.Text, nullable=False),
        sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("tx_hash", "log_index", name="uq_chain_events_tx_log"),
    )
    op.create_table(
        "indexed_blocks",
        sa.Column("number", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(66), nullable=False),
    )
    op.create_table(
        "indexer_checkpoints",
        sa.Column("contract", sa.String(40), primary_key=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("indexer_checkpoints", "indexed_blocks", "chain_events"):
        op.drop_table(table)
