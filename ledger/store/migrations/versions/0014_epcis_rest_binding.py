"""The EPCIS 2.0 REST binding: capture jobs, named queries and their subscriptions, master data
from captured documents, and two more columns of events (the event ID they declared, their
business location) so the binding can find events by them.

Revision ID: 0014
Revises: 0013
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("epcis_events") as b:
        b.add_column(sa.Column("event_ref", sa.String(300), nullable=True))
        b.add_column(sa.Column("biz_location", sa.String(300), nullable=True))
        b.create_index("ix_epcis_events_event_ref", ["event_ref"])
        b.create_index("ix_epcis_events_biz_location", ["biz_location"])
        b.create_index("ix_epcis_events_read_point", ["read_point"])
        b.create_index("ix_epcis_events_disposition", ["disposition"])
    _backfill()
    op.create_table(
        "epcis_capture_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("member", sa.String(42), nullable=False, index=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("behaviour", sa.String(8), nullable=False),
        sa.Column("running", sa.Boolean, nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("errors", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
    )
    op.create_table(
        "epcis_named_queries",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False, index=True),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "epcis_subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("query_name", sa.String(100), sa.ForeignKey("epcis_named_queries.name"), nullable=False, index=True),
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
    )
    op.create_table(
        "epcis_vocabulary",
        sa.Column("uri", sa.String(300), primary_key=True),
        sa.Column("vocab_type", sa.String(300), nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("children", sa.Text, nullable=False),
        sa.Column("recorder", sa.String(42), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def _backfill() -> None:
    """Events captured before this revision: their declared ID (else their hash ID) and location."""
    bind = op.get_bind()
    events = sa.table(
        "epcis_events",
        sa.column("id", sa.BigInteger),
        sa.column("hash_id", sa.String),
        sa.column("body", sa.Text),
        sa.column("event_ref", sa.String),
        sa.column("biz_location", sa.String),
    )
    rows = bind.execute(sa.select(events.c.id, events.c.hash_id, events.c.body)).all()
    for id_, hash_id, body in rows:
        event = json.loads(body)
        location = event.get("bizLocation")
        location = location.get("id") if isinstance(location, dict) else None
        ref = event.get("eventID") if isinstance(event.get("eventID"), str) else hash_id
        bind.execute(
            events.update()
            .where(events.c.id == id_)
            .values(event_ref=ref[:300], biz_location=location[:300] if isinstance(location, str) else None)
        )


def downgrade() -> None:
    op.drop_table("epcis_vocabulary")
    op.drop_table("epcis_subscriptions")
    op.drop_table("epcis_named_queries")
    op.drop_table("epcis_capture_jobs")
    with op.batch_alter_table("epcis_events") as b:
        b.drop_index("ix_epcis_events_disposition")
        b.drop_index("ix_epcis_events_read_point")
        b.drop_index("ix_epcis_events_biz_location")
        b.drop_index("ix_epcis_events_event_ref")
        b.drop_column("biz_location")
        b.drop_column("event_ref")
