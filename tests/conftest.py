"""Fixtures shared by every test folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.blobs import open_blob_store
from core.config import BlobSettings, Settings
from core.ports import BlobStore
from tests.s3_server import S3Server, start_s3_server
from tests.services import postgres_admin_url

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real face photos and mask templates (``../shared/data`` beside the checkout)."""
    path = SHARED_DIR / "data"
    assert path.is_dir(), f"test data not found at {path}"
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The job database on SQLite, and on the tests' PostgreSQL server (``tests/services.py``) in a schema of
    its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
        return
    schema = f"atelier_test_{uuid.uuid4().hex[:12]}"
    admin_url = postgres_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(admin_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; an operator's ATELIER_* variables must not leak in. The test
    suite's own ATELIER_TEST_* variables (which servers to use) stay for the processes that tests start."""
    import os

    for name in list(os.environ):
        if name.startswith("ATELIER_") and not name.startswith("ATELIER_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 server for the run (moto in its own process, or ``ATELIER_TEST_S3_ENDPOINT``) with one
    bucket of the run's own, emptied and removed afterwards."""
    import boto3

    with start_s3_server() as server:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=server.endpoint_url,
            region_name=server.region,
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
        )
        bucket = f"atelier-test-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        try:
            yield S3Server(server.endpoint_url, server.access_key, server.secret_key, server.region, bucket)
        finally:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if objects:
                    client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_settings(tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose blob store is a fresh prefix of the test bucket; credentials in the ``AWS_*``
    variables, where the store's client looks for them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return Settings(
        data_dir=tmp_path / "data",
        blobs=BlobSettings(
            url=f"s3://{s3_server.bucket}/t-{uuid.uuid4().hex[:12]}",
            endpoint_url=s3_server.endpoint_url,
            region=s3_server.region,
        ),
    )


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """The same store contract on the local directory and on the S3 server."""
    if request.param == "local":
        return open_blob_store(Settings(data_dir=tmp_path / "data"))
    return open_blob_store(request.getfixturevalue("s3_settings"))
