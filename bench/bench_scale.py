"""Throughput as worker processes are added, the broker's publish rate, and the blob round trip per job.

    python bench/bench_scale.py [--jobs N] [--job-ms MS] [--workers 1,2,4] [--publish N] [--blob-kb KB]

1. Scale: a pipeline that sleeps ``--job-ms`` (the fault tests' scripted pipeline: it holds no CPU, as a GPU
   job does not hold the host's) runs through the real fabric: the real studio submits through Celery on
   the real Redis (a database claimed for the run), 1, 2 and 4 real worker processes (one pool process
   each) take the jobs, a real Deliverer hands the results to an in-memory chat. ``--jobs`` are submitted
   at once; figures: jobs/s from the first submit to the last delivery, its share of the ideal (workers /
   job time), and the end-to-end latency (submit to delivered) p50 / p95.
2. Publish: ``--publish`` job messages sent to a queue no worker reads, by the same ``CeleryJobQueue`` the
   studio uses; target >= 500 jobs/s.
3. Blobs: what one job moves (the photo up, read by the worker, the result and its mask up, the result read
   by the delivery; ``--blob-kb`` a photo) on the local directory and on an S3 server (moto in a process of
   its own, or ``ATELIER_TEST_S3_ENDPOINT``), as a ratio against the local one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from fabric_harness import CHAT, Fabric, RecordingSender, png  # noqa: E402

from bench.common import percentile  # noqa: E402
from core.blobs import LocalBlobStore  # noqa: E402
from core.config import Settings  # noqa: E402
from core.ports import BlobStore, JobView  # noqa: E402
from core.studio.commands import Buttons  # noqa: E402
from core.studio.delivery import Attachment  # noqa: E402
from core.studio.sent_parts import SentParts  # noqa: E402
from core.studio.service import bootstrap  # noqa: E402
from jobs.celery_app import create_app  # noqa: E402
from jobs.queue import CeleryJobQueue  # noqa: E402
from tests.e2e.stack import claimed_redis_db  # noqa: E402
from tests.fakes import without_quotas  # noqa: E402
from tests.s3_server import start_s3_server  # noqa: E402

WORKING = (90, 120, 150)  # any colour the scripted pipeline has no special meaning for


class TimedSender(RecordingSender):
    """The in-memory chat, noting when each result arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}

    async def send_result(
        self,
        job: JobView,
        result_png: bytes,
        caption: str,
        attachments: Sequence[Attachment] = (),
        buttons: Buttons = (),
        parts: SentParts | None = None,
    ) -> None:
        await super().send_result(job, result_png, caption, attachments, buttons, parts)
        with self.lock:
            self.arrived[job.id] = time.monotonic()


def scale_run(redis_url: str, workers: int, jobs: int, job_s: float) -> tuple[float, float, float]:
    """jobs/s, p50 and p95 latency (s) with ``workers`` worker processes."""
    with tempfile.TemporaryDirectory(prefix="atelier-scale-") as folder:
        root = Path(folder)
        settings = without_quotas(Settings(data_dir=root / "data", redis_url=redis_url))
        settings.studio.max_queued = 10**6
        studio = bootstrap(settings, queue=CeleryJobQueue(create_app(settings)))
        sender = TimedSender()
        fabric = Fabric(root, settings, studio, sender=sender)
        try:
            for _ in range(workers):
                fabric.start_worker(seconds=job_s, time_limit_s=120, visibility_timeout_s=600)
            fabric.start_delivery()
            photo = png(WORKING, 64)
            submitted: dict[str, float] = {}
            began = time.monotonic()
            for _ in range(jobs):
                at = time.monotonic()
                submitted[fabric.studio.submit_unmask(CHAT, photo).job_id] = at
            deadline = time.monotonic() + 60 + 3 * jobs * job_s / workers
            while len(sender.arrived) < jobs:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{jobs - len(sender.arrived)} jobs not delivered in time")
                time.sleep(0.02)
            latencies = [sender.arrived[job_id] - at for job_id, at in submitted.items()]
            span = max(sender.arrived.values()) - began
            return jobs / span, percentile(latencies, 50), percentile(latencies, 95)
        finally:
            fabric.close()


def publish_rate(redis_url: str, count: int) -> float:
    settings = Settings(redis_url=redis_url)
    queue = CeleryJobQueue(create_app(settings))
    queue.enqueue(uuid.uuid4().hex, "bench-publish", "unmask")  # the connection, opened once
    began = time.perf_counter()
    for _ in range(count):
        queue.enqueue(uuid.uuid4().hex, "bench-publish", "unmask")
    return count / (time.perf_counter() - began)


def one_job_of_blobs(blobs: BlobStore, photo: bytes, rounds: int) -> float:
    """Median seconds of a job's blob traffic: photo up, photo read, result and mask up, result read,
    then the job's keys deleted (retention)."""
    times = []
    for _ in range(rounds):
        job = uuid.uuid4().hex
        began = time.perf_counter()
        blobs.put(f"jobs/{job}/input.png", photo)
        blobs.get(f"jobs/{job}/input.png")
        blobs.put(f"jobs/{job}/result.png", photo)
        blobs.put(f"jobs/{job}/mask.png", photo[: len(photo) // 8])
        blobs.get(f"jobs/{job}/result.png")
        times.append(time.perf_counter() - began)
        blobs.delete_prefix(f"jobs/{job}/")
    return percentile(times, 50)


def blob_round_trip(kilobytes: int, rounds: int) -> tuple[float, float]:
    import boto3

    from core.s3blobs import S3BlobStore

    photo = os.urandom(kilobytes * 1024)
    with tempfile.TemporaryDirectory(prefix="atelier-blobs-") as folder:
        local = one_job_of_blobs(LocalBlobStore(Path(folder)), photo, rounds)
    with start_s3_server() as server:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", server.access_key)
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", server.secret_key)
        bucket = f"atelier-bench-{uuid.uuid4().hex[:8]}"
        client = boto3.client("s3", endpoint_url=server.endpoint_url, region_name=server.region)
        client.create_bucket(Bucket=bucket)
        store = S3BlobStore(bucket, "bench", endpoint_url=server.endpoint_url, region=server.region)
        s3 = one_job_of_blobs(store, photo, rounds)
    return local, s3


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--job-ms", type=float, default=500.0)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--publish", type=int, default=2000)
    parser.add_argument("--blob-kb", type=int, default=1500, help="a photo's size (a 1 MP PNG is ~1.5 MB)")
    parser.add_argument("--blob-rounds", type=int, default=20)
    args = parser.parse_args()
    job_s = args.job_ms / 1000.0
    counts = [int(n) for n in args.workers.split(",")]

    with claimed_redis_db() as redis_url:
        print(f"scale: {args.jobs} jobs of {args.job_ms:.0f} ms each, submitted at once; Celery on Redis")
        print("ideal: workers / job time; linear: the first row's rate times workers / its workers")
        header = ("workers", "jobs/s", "ideal", "of ideal", "of linear", "p50 s", "p95 s")
        print("{:>7} {:>8} {:>7} {:>9} {:>10} {:>7} {:>7}".format(*header))
        first: tuple[int, float] | None = None
        for workers in counts:
            rate, p50, p95 = scale_run(redis_url, workers, args.jobs, job_s)
            first = first or (workers, rate)
            ideal, linear = workers / job_s, first[1] * workers / first[0]
            print(
                f"{workers:>7} {rate:8.2f} {ideal:7.2f} {rate / ideal:9.2f} {rate / linear:10.2f} "
                f"{p50:7.2f} {p95:7.2f}"
            )
        rate = publish_rate(redis_url, args.publish)
        print(f"\npublish: {args.publish} job messages at {rate:.0f} jobs/s (target >= 500)")

    local, s3 = blob_round_trip(args.blob_kb, args.blob_rounds)
    print(
        f"\nblobs per job ({args.blob_kb} KB photo; put, get, put result and mask, get): local "
        f"{local * 1000:.1f} ms, S3 {s3 * 1000:.1f} ms ({s3 / local:.1f}x local)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
