"""The job database: SQLAlchemy models, Alembic migrations and the ``JobStore`` repository."""

from core.store.admin_records import PAUSED, QueueDepth
from core.store.identity_records import ForgottenRows, IdentityModelView, SelfieView, UserPrefs
from core.store.jobstore import ActiveCap, Attempt, AttemptAction, JobStore, NewJob, OverCap
from core.store.migrate import migrate
from core.store.queries import JobNotFound, StaleJob
from core.store.records import DeliveryView, Pending

__all__ = [
    "ActiveCap",
    "Attempt",
    "AttemptAction",
    "DeliveryView",
    "ForgottenRows",
    "IdentityModelView",
    "JobNotFound",
    "JobStore",
    "NewJob",
    "OverCap",
    "PAUSED",
    "Pending",
    "QueueDepth",
    "SelfieView",
    "StaleJob",
    "UserPrefs",
    "migrate",
]
