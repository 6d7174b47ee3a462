"""The S3-compatible blob store against a real S3 HTTP server (moto in server mode, or the server
``ATELIER_TEST_S3_ENDPOINT`` names): chosen by the settings, paginated listing, batched deletes, multipart
uploads, retries through a server that answers 500 for a while, credentials kept out of the logs, a client
per process, and /forget and the retention rule deleting from the bucket. The contract shared with the local
store is in ``tests/unit/test_blobs.py``."""

from __future__ import annotations

import io
import logging
import multiprocessing
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from core import identity
from core.blobs import LocalBlobStore, held_key, open_blob_store
from core.config import BlobSettings, Settings
from core.imaging.pipelines.jobio import JobInputs, JobOutputs
from core.imaging.pipelines.progress import ProgressCallback
from core.logs import configure_logging
from core.ports import ChatRef, JobState
from core.retention import purge_job
from core.s3blobs import S3BlobStore
from core.store.models import utcnow
from jobs import runtime
from tests.e2e.offline import photo_bytes
from tests.s3_server import FlakyProxy, S3Server
from tests.worker_in_process import events_redis_url, studio_with_worker

pytestmark = pytest.mark.integration

MB = 1024 * 1024
CHAT = ChatRef(platform="telegram", user_id="77", chat_id="77", lang="en")


class Scripted:
    """An unmask pipeline that returns the photo as its result."""

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        return JobOutputs(inputs.image, Image.new("L", inputs.image.size, 255))


def raw_client(server: S3Server):  # type: ignore[no-untyped-def]
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    )


def bucket_keys(server: S3Server, settings: Settings) -> list[str]:
    """What the bucket holds under the store's prefix, read past the store."""
    prefix = (settings.blobs.url or "").split("/", 3)[3] + "/"
    pages = raw_client(server).get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix=prefix)
    return sorted(item["Key"][len(prefix) :] for page in pages for item in page.get("Contents", []))


def through(proxy: FlakyProxy, settings: Settings, **changes: object) -> S3BlobStore:
    blobs = settings.blobs.model_copy(update={"endpoint_url": proxy.url, **changes})
    store = open_blob_store(settings.model_copy(update={"blobs": blobs}))
    assert isinstance(store, S3BlobStore)
    return store


def test_the_settings_choose_the_store(
    s3_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(open_blob_store(Settings(data_dir=tmp_path)), LocalBlobStore)
    store = open_blob_store(s3_settings)
    assert isinstance(store, S3BlobStore) and store.bucket == s3_settings.blobs.url.split("/")[2]  # type: ignore[union-attr]
    monkeypatch.setenv("ATELIER_BLOBS__URL", "s3://studio-blobs/atelier/prod")
    monkeypatch.setenv("ATELIER_BLOBS__ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("ATELIER_BLOBS__REGION", "eu-central-1")
    from_env = Settings()
    assert from_env.blobs.url == "s3://studio-blobs/atelier/prod"
    assert from_env.blobs.endpoint_url == "http://minio:9000" and from_env.blobs.region == "eu-central-1"
    env_store = open_blob_store(from_env)
    assert isinstance(env_store, S3BlobStore)
    assert (env_store.bucket, env_store.prefix) == ("studio-blobs", "atelier/prod/")


@pytest.mark.parametrize("url", ["gs://bucket/x", "s3://", "s3:///prefix", "bucket/prefix", "s3://b/../x"])
def test_a_malformed_url_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValueError):
        open_blob_store(Settings(blobs=BlobSettings(url=url)))


def test_a_missing_key_raises_what_the_local_store_raises(s3_settings: Settings, tmp_path: Path) -> None:
    for store in (open_blob_store(s3_settings), LocalBlobStore(tmp_path)):
        with pytest.raises(FileNotFoundError):
            store.get("results/none.png")
        assert not store.exists("results/none.png")
        store.delete("results/none.png")  # nothing to delete is fine


def test_keys_and_delete_prefix_page_past_a_thousand_objects(
    s3_settings: Settings, s3_server: S3Server
) -> None:
    with FlakyProxy(s3_server.endpoint_url) as proxy:
        store = through(proxy, s3_settings)
        names = [f"held/many/{n:05d}.png" for n in range(1100)]
        direct = open_blob_store(s3_settings)  # the uploads skip the proxy: only the listing is counted
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: direct.put(key, b"x"), names))
        direct.put("held/other/keep.png", b"y")

        assert store.keys("held/many/") == names
        assert [method for method, _ in proxy.requests] == ["GET", "GET"]  # two pages of at most 1000

        proxy.requests.clear()
        assert store.delete_prefix("held/many/") == 1100
        assert [method for method, _ in proxy.requests].count("POST") == 2  # DeleteObjects, 1000 and 100
    assert bucket_keys(s3_server, s3_settings) == ["held/other/keep.png"]


def test_a_large_object_goes_up_in_parts(s3_settings: Settings, s3_server: S3Server) -> None:
    five = 5 * MB  # the smallest part S3 accepts
    store = open_blob_store(
        s3_settings.model_copy(
            update={"blobs": s3_settings.blobs.model_copy(update={"multipart_threshold_bytes": five})}
        )
    )
    adapter = bytes(range(256)) * (20 * MB // 256)
    store.put("identities/u-1/adapter.safetensors", adapter)
    assert store.get("identities/u-1/adapter.safetensors") == adapter
    prefix = s3_settings.blobs.url.split("/", 3)[3]  # type: ignore[union-attr]
    head = raw_client(s3_server).head_object(
        Bucket=s3_server.bucket, Key=f"{prefix}/identities/u-1/adapter.safetensors"
    )
    assert head["ETag"].strip('"').endswith("-4")  # four 5 MB parts
    small = open_blob_store(s3_settings)  # the default threshold: one PUT
    small.put("results/small.png", adapter[: 4 * MB])
    head = raw_client(s3_server).head_object(Bucket=s3_server.bucket, Key=f"{prefix}/results/small.png")
    assert "-" not in head["ETag"]


def test_a_server_that_answers_500_for_a_while_is_retried(s3_settings: Settings, s3_server: S3Server) -> None:
    with FlakyProxy(s3_server.endpoint_url) as proxy:
        store = through(proxy, s3_settings, max_attempts=4)
        proxy.fail_next(2)
        store.put("results/r.png", b"result")
        assert [status for _, status in proxy.requests] == [500, 500, 200]
        proxy.fail_next(3)
        assert store.get("results/r.png") == b"result"
        proxy.fail_next(2)
        assert store.exists("results/r.png")
        proxy.fail_next(2)
        assert store.keys("results/") == ["results/r.png"]

        proxy.fail_next(2)  # a multipart upload: its first calls fail
        big = through(proxy, s3_settings, max_attempts=4, multipart_threshold_bytes=5 * MB)
        big.put("identities/u-2/adapter.safetensors", b"a" * (11 * MB))
        assert big.get("identities/u-2/adapter.safetensors") == b"a" * (11 * MB)

        proxy.fail_next(10)  # down for good: the error reaches the caller after the last attempt
        with pytest.raises(ClientError):
            store.get("results/r.png")
        proxy.fail_next(0)


def test_credentials_never_reach_the_logs(
    s3_settings: Settings, s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FlakyProxy(s3_server.endpoint_url) as proxy:
        store = through(proxy, s3_settings, max_attempts=3)
        proxy.fail_next(1)
        store.put("results/c.png", b"c")
        store.get("results/c.png")
        with pytest.raises(FileNotFoundError) as missing:
            store.get("results/none.png")
        proxy.fail_next(5)
        with pytest.raises(ClientError) as failed:
            store.get("results/c.png")
        proxy.fail_next(0)
    assert caplog.records  # the client did log, at DEBUG
    assert s3_server.secret_key not in caplog.text
    for text in (str(missing.value), str(failed.value), repr(store), repr(s3_settings)):
        assert s3_server.secret_key not in text and s3_server.access_key not in text
    ours = [r for r in caplog.records if r.name.startswith("core.") or r.levelno >= logging.INFO]
    assert not [r for r in ours if s3_server.access_key in r.getMessage()]


def test_the_studio_log_setup_keeps_the_access_key_out_even_at_debug(
    s3_settings: Settings, s3_server: S3Server
) -> None:
    """botocore logs request headers at DEBUG, the access key id among them; the log setup quiets it."""
    root, quieted = (
        logging.getLogger(),
        [logging.getLogger(name) for name in ("botocore", "boto3", "s3transfer")],
    )
    saved = (root.handlers[:], root.level, [logger.level for logger in quieted])
    stream = io.StringIO()
    try:
        configure_logging("DEBUG")
        root.addHandler(logging.StreamHandler(stream))
        store = open_blob_store(s3_settings)
        store.put("results/d.png", b"d")
        assert store.get("results/d.png") == b"d"
        logging.getLogger("core.s3blobs").debug("still logging")
    finally:
        root.handlers[:], level, levels = saved
        root.setLevel(level)
        for logger, old in zip(quieted, levels, strict=True):
            logger.setLevel(old)
    assert "still logging" in stream.getvalue()
    assert s3_server.access_key not in stream.getvalue() and s3_server.secret_key not in stream.getvalue()


def _put_in_child(store: S3BlobStore) -> None:
    inherited = store._client
    store.put("results/from-child.png", b"child")
    sys.exit(0 if store._client is not None and store._client is not inherited else 3)


def test_a_forked_worker_builds_its_own_client(s3_settings: Settings) -> None:
    store = open_blob_store(s3_settings)
    assert isinstance(store, S3BlobStore)
    store.put("results/from-parent.png", b"parent")  # the parent's client exists before the fork
    child = multiprocessing.get_context("fork").Process(target=_put_in_child, args=(store,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert store.get("results/from-child.png") == b"child"


def test_retention_and_forget_delete_from_the_bucket(
    s3_settings: Settings, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real retention and /forget code with the store the settings choose, in the bot and the worker."""
    settings = s3_settings.model_copy(update={"redis_url": events_redis_url()})
    with studio_with_worker(settings, monkeypatch) as studio:
        assert isinstance(studio.blobs, S3BlobStore)
        runtime.register_pipeline("unmask", lambda _settings: Scripted())

        # 1. Retention: a done job's photo, result and edit mask.
        first = studio.submit_unmask(CHAT, photo_bytes()).job_id
        runtime.execute(first)
        assert isinstance(runtime.context().blobs, S3BlobStore)
        job = studio.job(first)
        assert job.state is JobState.DONE and len(bucket_keys(s3_server, settings)) == 3
        assert purge_job(studio.store, studio.blobs, job) > 0
        assert bucket_keys(s3_server, settings) == []

        # 2. /forget: a second job, selfies, an identity model and a held photo.
        second = studio.submit_unmask(CHAT, photo_bytes()).job_id
        runtime.execute(second)
        slug = identity.owner_slug(CHAT.platform, CHAT.user_id)
        studio.blobs.put(identity.selfie_key(slug, "s1"), photo_bytes())
        studio.blobs.put(identity.adapter_key(slug, "tiny-sd-inpaint"), b"adapter")
        studio.blobs.put(held_key(slug, utcnow()), photo_bytes())
        studio.blobs.put("results/someone-else.png", b"kept")
        assert len(bucket_keys(s3_server, settings)) == 7

        report = studio.identities.forget(CHAT)
        assert report.jobs == 2 and report.files >= 6
        assert bucket_keys(s3_server, settings) == ["results/someone-else.png"]
