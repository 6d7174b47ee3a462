"""The job database: SQLAlchemy models, Alembic migrations and the ``JobStore`` repository."""

from core.store.admin_records import PAUSED, QueueDepth
from core.store.identity_records import ForgottenRows, IdentityModelView, SelfieView, UserPrefs
from core.store.jobstore import Attempt, AttemptAction, JobStore, NewJob
from core.store.migrate import migrate
from core.store.queries import JobNotFound, StaleJob
from core.store.records import DeliveryView, Pending

__all__ = [
    "Attempt",
    "AttemptAction",
    "DeliveryView",
    "ForgottenRows",
    "IdentityModelView",
    "JobNotFound",
    "JobStore",
    "NewJob",
    "PAUSED",
    "Pending",
    "QueueDepth",
    "SelfieView",
    "StaleJob",
    "UserPrefs",
    "migrate",
]
