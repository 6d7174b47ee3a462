"""The job database: SQLAlchemy models, Alembic migrations and the ``JobStore`` repository."""

from core.store.jobstore import Attempt, AttemptAction, JobStore, NewJob
from core.store.migrate import migrate
from core.store.queries import JobNotFound, StaleJob
from core.store.records import DeliveryView, Pending

__all__ = [
    "Attempt",
    "AttemptAction",
    "DeliveryView",
    "JobNotFound",
    "JobStore",
    "NewJob",
    "Pending",
    "StaleJob",
    "migrate",
]
