"""Purchase commitments made before leaves were Poseidon(Poseidon(secret), batch) (docs/zk.md, the
batch a proof names is the order's): each earlier row holds Poseidon(secret, batch), which the new
circuit can never prove, so they are voided and let go of their leaf indexes (the new circuit's
verifier comes with a new PurchaseProofs, whose tree starts empty: `ledger zk deploy`). Shoppers with
such a purchase keep their receipt; it proves nothing on the new tree.

Revision ID: 0038
Revises: 0037
"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("UPDATE purchase_commitments SET state = 'void', leaf_index = NULL, anchor_tx = NULL"))


def downgrade() -> None:
    pass  # the old leaves stay void: the old circuit is gone
