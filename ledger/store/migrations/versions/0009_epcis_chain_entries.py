"""EPCIS events recorded one by one into a batch's hash chain: an anchor row gets a kind
(`merkle`, the default for every existing row, or `chain`), the batch and the entry's index.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("epcis_anchors", sa.Column("kind", sa.String(8), nullable=False, server_default="merkle"))
    op.add_column("epcis_anchors", sa.Column("batch_id", sa.String(66), nullable=True))
    op.add_column("epcis_anchors", sa.Column("chain_index", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("epcis_anchors") as t:
        t.drop_column("chain_index")
        t.drop_column("batch_id")
        t.drop_column("kind")
