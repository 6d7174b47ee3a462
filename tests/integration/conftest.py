"""Fixtures for the job fabric's integration tests (helpers live in ``fabric_harness``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fabric_harness import Fabric

from core.config import Settings
from core.studio.service import bootstrap
from jobs.celery_app import create_app
from jobs.queue import CeleryJobQueue
from tests.fakes import without_quotas
from tests.services import redis_address, redis_url


@pytest.fixture(scope="session")
def redis_db() -> Iterator[int]:
    """A Redis database number on the tests' server that no other test run uses meanwhile (claimed with a lock
    key in database 0). Broker keys and job event channels are both per database."""
    host, port = redis_address()
    admin = redis.Redis(host=host, port=port)
    token = uuid.uuid4().hex
    for db in range(15, 0, -1):
        if admin.set(f"atelier-test:db-lock:{db}", token, nx=True, ex=3600):
            break
    else:
        raise RuntimeError(f"no free Redis database on {host}:{port}")
    redis.Redis(host=host, port=port, db=db).flushdb()
    yield db
    redis.Redis(host=host, port=port, db=db).flushdb()
    if admin.get(f"atelier-test:db-lock:{db}") == token.encode():
        admin.delete(f"atelier-test:db-lock:{db}")


@pytest.fixture
def fabric(tmp_path: Path, redis_db: int) -> Iterator[Fabric]:
    redis.Redis.from_url(redis_url(redis_db)).flushdb()
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url(redis_db))
    settings = without_quotas(settings)
    studio = bootstrap(settings, queue=CeleryJobQueue(create_app(settings)))
    fab = Fabric(tmp_path, settings, studio)
    try:
        yield fab
    finally:
        fab.close()
