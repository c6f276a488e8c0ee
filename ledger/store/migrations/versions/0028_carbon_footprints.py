"""Carbon: factor tables, footprints, PACT API clients and tokens, received CloudEvents.

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "carbon_factor_tables",
        sa.Column("version", sa.String(40), primary_key=True),
        sa.Column("publisher", sa.String(42), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(66), nullable=False),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("root", sa.String(66), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("published_at", TS, nullable=False),
    )
    op.create_table(
        "carbon_footprints",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("product_id", sa.String(300), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_to", TS, nullable=False),
        sa.Column("merchant", sa.String(42), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(66), nullable=False),
        sa.Column("table_version", sa.String(40), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("root", sa.String(66), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "carbon_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(66), nullable=False),
        sa.Column("member", sa.String(42), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "carbon_tokens",
        sa.Column("token_hash", sa.String(66), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_table(
        "carbon_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.UniqueConstraint("source", "event_id"),
    )

    op.create_index("ix_carbon_factor_tables_publisher", "carbon_factor_tables", ["publisher"])
    op.create_index("ix_carbon_footprints_gtin", "carbon_footprints", ["gtin"])
    op.create_index("ix_carbon_footprints_product_id", "carbon_footprints", ["product_id"])
    op.create_index("ix_carbon_footprints_status", "carbon_footprints", ["status"])
    op.create_index("ix_carbon_footprints_merchant", "carbon_footprints", ["merchant"])
    op.create_index("ix_carbon_footprints_created_at", "carbon_footprints", ["created_at"])
    op.create_index("ix_carbon_clients_member", "carbon_clients", ["member"])
    op.create_index("ix_carbon_tokens_client_id", "carbon_tokens", ["client_id"])


def downgrade() -> None:
    for name in ("carbon_events", "carbon_tokens", "carbon_clients", "carbon_footprints", "carbon_factor_tables"):
        op.drop_table(name)
