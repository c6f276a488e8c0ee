"""Reconciliation sign-offs (an auditor's EIP-712 signature of a run, one per run) and arbiters'
co-signatures of case rulings left for the other arbiters to collect; shoppers' reports of a
suspected counterfeit.

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recon_signoffs",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("recon_runs.id"), primary_key=True, autoincrement=False),
        sa.Column("auditor", sa.String(42), nullable=False, index=True),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ruling_cosignatures",
        sa.Column("case_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("pay_out", sa.Boolean(), primary_key=True),
        sa.Column("signer", sa.String(42), primary_key=True),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "counterfeit_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("gtin", sa.String(14), nullable=False, index=True),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("serial", sa.String(20), nullable=False, index=True),
        sa.Column("message", sa.String(1000), nullable=False),
        sa.Column("contact", sa.String(100), nullable=False),
        sa.Column("place", sa.String(100), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("client", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("counterfeit_reports")
    op.drop_table("ruling_cosignatures")
    op.drop_table("recon_signoffs")
