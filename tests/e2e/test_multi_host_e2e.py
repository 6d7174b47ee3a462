"""End to end past one machine: the real bot process and two real Celery workers (offline tier), each with a
data directory of its own and no file system in common. Jobs live in a PostgreSQL database made for the test,
every photo and result in the S3 bucket (the test's moto server, or MinIO/Ceph through
``ATELIER_TEST_S3_ENDPOINT`` and the ``AWS_*`` credentials), work travels over Redis, and the local fake Bot
API stands in for Telegram.

/unmask, /suit and /train go through; nothing lands in any process's own directory. Then one worker is
killed (``SIGKILL``, parent and pool child: a machine lost) in the middle of a job, and the other finishes it,
delivered exactly once, also after the broker hands the dead worker's message out again.

The processes share one machine's process table, so the survivor's reaper sees at once that the lease owner's
pid is gone (``jobs.runtime.owner_alive``). On separate machines it cannot tell, and the lease expiry (the
hard time limit + ``LEASE_MARGIN_S``) bounds the takeover instead; this test does not wait that long."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from PIL import Image
from sqlalchemy import create_engine, text

from core.identity import owner_slug, selfie_prefix
from core.store import migrate
from tests.e2e.fake_bot_api import FakeBotAPI, Sent
from tests.e2e.multi_host import (
    Host,
    files_under,
    fresh_postgres_database,
    host_env,
    kill_host,
    start_worker_host,
)
from tests.e2e.stack import claimed_redis_db, png_size, start_bot, stop
from tests.s3_server import S3Server
from tests.selfie_photos import selfie_set

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.postgres]

RESULT_TIMEOUT_S = 120.0
# Hard time limits below a short visibility timeout: the broker hands out a dead worker's message again
# after VISIBILITY_TIMEOUT_S (and a restore sweep), which the last step waits for.
TIME_LIMIT_S = 25
VISIBILITY_TIMEOUT_S = 30
# The reaper's round (5 s) + the slow job (4 s) + delivery, with room for a busy machine.
RECOVERY_BOUND_S = 25.0
CHAT_UNMASK, CHAT_SUIT, CHAT_TRAIN, CHAT_KILL = 7300001, 7300002, 7300003, 7300004


@dataclass
class Deployment:
    api: FakeBotAPI
    work: Path
    redis_url: str
    database_url: str
    s3: S3Server
    prefix: str
    bot: Host
    workers: list[Host]

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
            for path in sorted(self.work.glob("*.log"))
        )

    def wait_for(self, predicate: Callable[[Sent], bool], count: int = 1) -> list[Sent]:
        try:
            return self.api.wait_for(predicate, count=count, timeout=RESULT_TIMEOUT_S)
        except TimeoutError as error:
            raise AssertionError(f"{error}\n{self.log_tail()}") from None

    def jobs(self) -> list[dict[str, Any]]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT * FROM jobs ORDER BY created_at")).mappings().all()
                return [dict(row) for row in rows]
        finally:
            engine.dispose()

    def bucket_keys(self) -> set[str]:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.s3.endpoint_url,
            region_name=self.s3.region,
            aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key,
        )
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.s3.bucket, Prefix=self.prefix)
        return {item["Key"][len(self.prefix) :] for page in pages for item in page.get("Contents", ())}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("multi-host-e2e")
    prefix = f"multi-host-{uuid.uuid4().hex[:12]}"  # the run's bucket, this test's own folder
    with (
        claimed_redis_db() as redis_url,
        fresh_postgres_database() as database_url,
        FakeBotAPI() as api,
    ):

        def env(name: str) -> dict[str, str]:
            return host_env(
                api,
                work,
                name,
                redis_url,
                database_url,
                s3_server,
                f"s3://{s3_server.bucket}/{prefix}",
                ATELIER_TELEGRAM__POLL_TIMEOUT_S="2",
                ATELIER_TRAIN__MIN_SELFIES="3",
                ATELIER_WORKER__GPU_TIME_LIMIT_S=str(TIME_LIMIT_S),
                ATELIER_WORKER__CPU_TIME_LIMIT_S=str(TIME_LIMIT_S),
                ATELIER_WORKER__TRAIN_TIME_LIMIT_S=str(TIME_LIMIT_S),
                ATELIER_WORKER__VISIBILITY_TIMEOUT_S=str(VISIBILITY_TIMEOUT_S),
            )

        migrate(database_url)  # once, before three processes would all try
        workers = [start_worker_host(env(name), name, work) for name in ("worker-a", "worker-b")]
        bot_env = env("bot")
        bot = Host("bot", Path(bot_env["ATELIER_DATA_DIR"]), start_bot(bot_env, work / "bot.log"))
        running = Deployment(api, work, redis_url, database_url, s3_server, f"{prefix}/", bot, workers)
        try:
            api.wait_for_call("getUpdates", timeout=60)
            yield running
        finally:
            stop(bot.process)
            for worker in workers:
                stop(worker.process, timeout_s=30)


def to_chat(chat_id: int, method: str, starts: str = "") -> Callable[[Sent], bool]:
    return lambda s: s.chat_id == chat_id and s.method == method and s.text.startswith(starts)


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def start_training(api: FakeBotAPI, deployment: Deployment, selfies: list[bytes]) -> None:
    api.send_text(CHAT_TRAIN, "/train")
    (prompt,) = deployment.wait_for(to_chat(CHAT_TRAIN, "sendMessage", "Before you send selfies"))
    agree = next(b["callback_data"] for row in prompt.message["reply_markup"]["inline_keyboard"] for b in row)
    api.inject_update(api.button_press(prompt.message, agree))
    deployment.wait_for(to_chat(CHAT_TRAIN, "editMessageText", "Send 3 to 20 selfies"))
    for data in selfies:
        api.send_photo(CHAT_TRAIN, data, media_group_id="mh-album")


def test_unmask_suit_and_train_keep_every_blob_in_the_bucket(
    deployment: Deployment, shared_data: Path
) -> None:
    api, faces = deployment.api, shared_data / "faces"
    masked = (faces / "with_mask" / "wm_005.jpg").read_bytes()
    me = Image.open(faces / "without_mask" / "nm_010.jpg").convert("RGB")
    selfies = [jpeg(image) for image in selfie_set(me, 3)]

    # 1. Three users at once, so both workers have work
    api.send_photo(CHAT_UNMASK, masked, caption="/unmask")
    api.send_photo(CHAT_SUIT, (faces / "without_mask" / "nm_003.jpg").read_bytes(), caption="/suit 3x4")
    start_training(api, deployment, selfies)

    # 2. Results, once each
    (document,) = deployment.wait_for(to_chat(CHAT_UNMASK, "sendDocument"))
    with Image.open(io.BytesIO(masked)) as original:
        assert png_size(document.files["document"].data) == original.size
    deployment.wait_for(to_chat(CHAT_SUIT, "sendDocument"), count=2)  # the ID photo and its print sheet
    deployment.wait_for(to_chat(CHAT_TRAIN, "sendMessage", "Accepted"), count=3)
    api.send_text(CHAT_TRAIN, "/done")
    deployment.wait_for(to_chat(CHAT_TRAIN, "sendMessage", "Your selfies are ready (3)."))
    time.sleep(2.0)  # a second delivery would come now
    assert [len(api.sent_to(CHAT_UNMASK, m)) for m in ("sendPhoto", "sendDocument")] == [1, 1]
    assert [len(api.sent_to(CHAT_SUIT, m)) for m in ("sendPhoto", "sendDocument")] == [1, 2]
    ready = [s for s in api.sent_to(CHAT_TRAIN) if s.text.startswith("Your selfies are ready")]
    assert len(ready) == 1

    # 3. Every job's photos and results are in the bucket, and in no process's own directory
    jobs = deployment.jobs()
    assert {job["kind"] for job in jobs} == {"unmask", "suit", "selfie", "train"}
    assert all(job["state"] == "done" for job in jobs), [(j["kind"], j["state"]) for j in jobs]
    keys = deployment.bucket_keys()
    images = [job for job in jobs if job["kind"] in ("unmask", "suit")]
    for job in images:
        assert {job["input_key"], job["result_key"], job["mask_key"]} <= keys, (job["kind"], sorted(keys))
    assert f"results/{next(j['id'] for j in images if j['kind'] == 'suit')}.sheet.png" in keys
    folder = selfie_prefix(owner_slug("telegram", str(CHAT_TRAIN)))
    selfies_kept = [key for key in keys if key.startswith(folder)]  # the raw photos went after training
    assert len(selfies_kept) == 3 and all(key.endswith(".aligned.png") for key in selfies_kept), sorted(keys)
    job_ids = {job["id"] for job in jobs}
    for host in (deployment.bot, *deployment.workers):
        # A process that ever opened a local blob store would have made this folder.
        assert not (host.data_dir / "blobs").exists(), (host.name, files_under(host.data_dir))
        stray = [path for path in files_under(host.data_dir) if any(i in path for i in job_ids)]
        assert stray == [], (host.name, stray)


def test_a_worker_lost_mid_job_is_finished_by_the_other_and_delivered_once(
    deployment: Deployment, shared_data: Path
) -> None:
    api = deployment.api
    person = (shared_data / "tryon" / "people" / "00034_00.jpg").read_bytes()
    garment = (shared_data / "tryon" / "garments" / "09290_00.jpg").read_bytes()
    api.send_photo(CHAT_KILL, person, caption="/tryon", media_group_id="mh-tryon")
    api.send_photo(CHAT_KILL, garment, media_group_id="mh-tryon")

    # 1. The job runs on one of the workers (its lease names the pool child's pid): that machine dies
    job, victim = running_job(deployment, "tryon")
    kill_host(victim)
    killed_at = time.monotonic()
    (survivor,) = [w for w in deployment.workers if w is not victim]

    # 2. The other worker takes it over and the user gets the result
    deployment.wait_for(to_chat(CHAT_KILL, "sendDocument"))
    recovered_s = time.monotonic() - killed_at
    (row,) = [j for j in deployment.jobs() if j["id"] == job["id"]]
    assert row["state"] == "done" and row["attempts"] == 2, row
    assert f"job {job['id']} done" in (deployment.work / f"{survivor.name}.log").read_text()
    assert recovered_s < RECOVERY_BOUND_S, recovered_s

    # 3. The dead worker's message comes back after the visibility timeout; the survivor takes and
    # acknowledges it without a second delivery
    wait_until_broker_drained(deployment.redis_url, timeout_s=VISIBILITY_TIMEOUT_S + 30)
    time.sleep(3.0)
    assert [len(api.sent_to(CHAT_KILL, m)) for m in ("sendPhoto", "sendDocument")] == [1, 1], (
        deployment.log_tail()
    )
    assert survivor.process.poll() is None, deployment.log_tail()


def running_job(deployment: Deployment, kind: str, timeout_s: float = 60.0) -> tuple[dict[str, Any], Host]:
    """The job of ``kind`` once it has reported progress, and the worker whose process holds it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for job in deployment.jobs():
            if job["kind"] == kind and job["state"] == "running" and job["stage"] and job["lease_owner"]:
                pid = int(job["lease_owner"].rsplit(":", 2)[1])
                (holder,) = [w for w in deployment.workers if pid in w.pids()]
                return job, holder
        time.sleep(0.1)
    raise AssertionError(f"no {kind} job started within {timeout_s} s\n{deployment.log_tail()}")


def wait_until_broker_drained(redis_url: str, timeout_s: float) -> None:
    """Until no message is waiting or unacknowledged: the dead worker's one was handed out again, taken and
    acknowledged."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    quiet = 0  # looks in a row that found nothing (a message moving between two keys is in neither)
    try:
        while time.monotonic() < deadline:
            empty = not client.hlen("unacked") and not any(client.llen(q) for q in ("gpu", "cpu", "train"))
            quiet = quiet + 1 if empty else 0
            if quiet == 3:
                return
            time.sleep(0.5)
    finally:
        client.close()
    raise AssertionError(f"the broker still holds messages after {timeout_s} s")
