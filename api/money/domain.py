"""What the money domain mounts: deposits, orders (steps before the order routes), merchants'
referral terms, payouts, the token, reconciliation runs."""

from __future__ import annotations

from ..core.domain import Domain
from . import deposits, order_list, order_rulings, order_steps, orders, payouts, reconciliation, referral_terms, token

DOMAIN = Domain(
    "money",
    (
        deposits.router,
        order_steps.router,
        order_rulings.router,
        order_list.router,
        orders.router,
        referral_terms.router,
        payouts.router,
        token.router,
        reconciliation.router,
    ),
)
