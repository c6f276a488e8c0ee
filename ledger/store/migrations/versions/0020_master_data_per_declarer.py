"""EPCIS master data kept per declarer: a member's declaration of a vocabulary element is its own
row, never merged over another member's (what was stored moves over as its last recorder's).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
COLUMNS = "uri, vocab_type, attributes, children, updated_at"


def upgrade() -> None:
    op.create_table(
        "epcis_master_data",
        sa.Column("declarer", sa.String(42), primary_key=True),
        sa.Column("uri", sa.String(300), primary_key=True),
        sa.Column("vocab_type", sa.String(300), nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("children", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.execute(f"INSERT INTO epcis_master_data (declarer, {COLUMNS}) SELECT recorder, {COLUMNS} FROM epcis_vocabulary")
    op.drop_table("epcis_vocabulary")


def downgrade() -> None:
    op.create_table(
        "epcis_vocabulary",
        sa.Column("uri", sa.String(300), primary_key=True),
        sa.Column("vocab_type", sa.String(300), nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("children", sa.Text, nullable=False),
        sa.Column("recorder", sa.String(42), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    # one row per element again: the latest declaration of each
    op.execute(
        f"INSERT INTO epcis_vocabulary ({COLUMNS}, recorder) SELECT {COLUMNS}, declarer FROM epcis_master_data m "
        "WHERE NOT EXISTS (SELECT 1 FROM epcis_master_data n WHERE n.uri = m.uri AND "
        "(n.updated_at > m.updated_at OR (n.updated_at = m.updated_at AND n.declarer > m.declarer)))"
    )
    op.drop_table("epcis_master_data")
