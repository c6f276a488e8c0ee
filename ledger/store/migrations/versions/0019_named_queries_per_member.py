"""Named queries are named per member: the key of a named query is its owner and its name (two
members may both have a query "shipped", and a 409 never tells one member another's names); a
subscription names its query by both (`query_owner`, `query_name`).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SUB_COLUMNS = ["id", "query_name", "owner", "dest", "secret", "stream", "schedule", "report_if_empty",
               "initial_record_time", "created_at", "cursor", "next_run_at", "failures", "retry_at", "paused_at",
               "last_error", "delivered"]  # fmt: skip


def _subscription_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("dest", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("schedule", sa.Text, nullable=True),
        sa.Column("report_if_empty", sa.Boolean, nullable=False),
        sa.Column("initial_record_time", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("next_run_at", TS, nullable=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("retry_at", TS, nullable=True),
        sa.Column("paused_at", TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered", sa.BigInteger, nullable=False),
    ]


def _rows(table: str) -> list[dict]:
    """Every row of `table`, typed as its columns are (times as datetimes, on SQLite too)."""
    bind = op.get_bind()
    return [dict(r._mapping) for r in bind.execute(sa.select(sa.Table(table, sa.MetaData(), autoload_with=bind)))]


def upgrade() -> None:
    queries, subs = _rows("epcis_named_queries"), _rows("epcis_subscriptions")
    owner_of = {q["name"]: q["owner"] for q in queries}
    op.drop_table("epcis_subscriptions")
    op.drop_table("epcis_named_queries")
    named = op.create_table(
        "epcis_named_queries",
        sa.Column("owner", sa.String(42), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    subscriptions = op.create_table(
        "epcis_subscriptions",
        sa.Column("query_owner", sa.String(42), nullable=False),
        sa.Column("query_name", sa.String(100), nullable=False),
        *_subscription_columns(),
        sa.ForeignKeyConstraint(
            ["query_owner", "query_name"], ["epcis_named_queries.owner", "epcis_named_queries.name"]
        ),
    )
    op.create_index("ix_epcis_subscriptions_query", "epcis_subscriptions", ["query_owner", "query_name"])
    op.bulk_insert(named, queries)
    op.bulk_insert(subscriptions, [s | {"query_owner": owner_of[s["query_name"]]} for s in subs])


def downgrade() -> None:
    queries, subs = _rows("epcis_named_queries"), _rows("epcis_subscriptions")
    if len({q["name"] for q in queries}) < len(queries):
        raise RuntimeError("two members have queries of the same name: rename one before downgrading")
    op.drop_table("epcis_subscriptions")
    op.drop_table("epcis_named_queries")
    named = op.create_table(
        "epcis_named_queries",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False, index=True),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    subscriptions = op.create_table(
        "epcis_subscriptions",
        sa.Column("query_name", sa.String(100), sa.ForeignKey("epcis_named_queries.name"), nullable=False, index=True),
        *_subscription_columns(),
    )
    op.bulk_insert(named, queries)
    op.bulk_insert(subscriptions, [{k: s[k] for k in SUB_COLUMNS} for s in subs])
