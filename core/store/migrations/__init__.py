"""Alembic migrations of the job database (applied with ``core.store.migrate``)."""
