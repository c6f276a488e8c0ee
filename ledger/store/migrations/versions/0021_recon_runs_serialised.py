"""Reconciliation runs form one chain per source (a unique index on the previous run they name),
and a break remembers the highest cut-off it was seen at (only a run covering it resolves it).

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recon_breaks", sa.Column("seen_to_block", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE recon_breaks SET seen_to_block = (SELECT cut_off_block FROM recon_runs WHERE recon_runs.id = last_run)"
    )
    # runs stored before this revision may already fork (two naming one previous run): they stay as
    # they were, recorded history; the index holds from the runs after them
    forked = op.get_bind().scalar(
        sa.text(
            "SELECT max(id) FROM recon_runs WHERE (source, coalesce(previous_id, 0)) IN (SELECT source, "
            "coalesce(previous_id, 0) FROM recon_runs GROUP BY source, coalesce(previous_id, 0) HAVING count(*) > 1)"
        )
    )
    where = sa.text(f"id > {int(forked or 0)}")
    op.create_index(
        "ix_recon_runs_one_next", "recon_runs", ["source", sa.text("coalesce(previous_id, 0)")], unique=True,
        sqlite_where=where, postgresql_where=where,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_recon_runs_one_next", "recon_runs")
    op.drop_column("recon_breaks", "seen_to_block")
