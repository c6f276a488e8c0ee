"""The database: SQLAlchemy models, engines and sessions, Alembic migrations.

May import only the base modules (`errors`, `paths`, `clock`).
"""
