"""The worker runtime in the test's own process: ``jobs.runtime.execute(job_id)`` runs a job the studio
submitted, with the real job store and blob store and a real Redis (database 7 of the tests' server,
``tests/services.py``) for its events. Pipelines are whatever the test registers with
``runtime.register_pipeline``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from core.config import Settings
from core.studio.service import Studio, bootstrap
from jobs import runtime
from tests.fakes import MemoryQueue
from tests.services import redis_url


def events_redis_url() -> str:
    return redis_url(7)


@contextmanager
def studio_with_worker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Studio]:
    """A studio on ``settings`` (with an in-memory queue) and this process configured as its worker."""
    studio = bootstrap(settings, queue=MemoryQueue())
    monkeypatch.setattr(runtime, "_settings", settings)
    monkeypatch.setattr(runtime, "_context", None)
    monkeypatch.setattr(runtime, "_registered", {})
    try:
        yield studio
    finally:
        if runtime._context is not None:
            runtime._context.store.close()
        studio.store.close()
