"""Shoppers' zero-knowledge proofs of a delivered purchase (docs/zk.md): commitments with orders,
the tree of delivered purchases, verified buyers' reviews and claims, and the shopper's pages.

May import `ledger` (its `privacy` package chiefly) and the api's shared modules.
"""

from .pages import router as pages_router
from .router import router
from .tree_routes import router as tree_router

router.include_router(tree_router)
router.include_router(pages_router)

__all__ = ["router"]
