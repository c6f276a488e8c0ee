"""Orders found by the delivery event they name: a delivery checks that an event naming no order
backs no other order's delivery, and a cold-chain alarm holds the orders its lot's events delivered.

Revision ID: 0041
Revises: 0040
"""

from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_delivery_event", "orders", ["delivery_event"])


def downgrade() -> None:
    op.drop_index("ix_orders_delivery_event", "orders")
