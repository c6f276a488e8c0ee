"""Reconciliation sign-offs (an auditor's EIP-712 signature of a run, one per run) and arbiters'
co-signatures of case rulings left for the other arbiters to collect.

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
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


def downgrade() -> None:
    op.drop_table("ruling_cosignatures")
    op.drop_table("recon_signoffs")
