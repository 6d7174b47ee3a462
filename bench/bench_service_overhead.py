"""Service overhead per /unmask job, with a no-op pipeline in a real worker.

    python bench/bench_service_overhead.py [--jobs N] [--size PX]

The real bot process (``run_bot``) and a real Celery worker (``run_worker`` with a no-op pipeline registered
through ``jobs.runtime.register_pipeline``) run against the tests' real Redis (``tests/services.py``; a
database claimed for the run) and the local fake Bot API. Each job is one photo update injected into the fake
server; its latency ends when the bot has uploaded the result as a photo and as a document. Jobs run one after
another, each from its own chat (one chat would measure Telegram's one-message-per-second flood limit
instead). The stage split comes from the fake server's clock and the job rows' timestamps.
Targets: p50 <= 50 ms, p95 <= 150 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.common import percentile  # noqa: E402
from core.store import JobStore, migrate  # noqa: E402
from core.store.models import Job  # noqa: E402
from tests.e2e.fake_bot_api import FakeBotAPI  # noqa: E402
from tests.e2e.offline import photo_bytes  # noqa: E402
from tests.e2e.stack import claimed_redis_db, stack_env, start_bot, start_worker, stop  # noqa: E402

WARM_UP_JOBS = 5
WARM_UP_CHATS, MEASURED_CHATS = 9_000_000, 9_100_000
STAGES = (
    "update -> job row written (bot)",
    "update -> 'Queued' reply sent (bot)",
    "job row -> attempt started (Celery)",
    "attempt started -> job done (worker)",
    "job done -> document uploaded (delivery)",
)


def run_job(api: FakeBotAPI, chat_id: int, photo: bytes) -> dict[str, float]:
    """Milliseconds from the injected update to each thing the bot did for it (wall clock)."""
    message = api.photo_message(chat_id, photo, caption="/unmask")  # the fake's own work (thumbnails) first
    started_wall, started = time.time(), time.monotonic()
    api.inject_message(message)
    (document,) = api.wait_for(lambda s: s.chat_id == chat_id and s.method == "sendDocument", timeout=30)
    (queued,) = api.sent_to(chat_id, "sendMessage")
    return {
        "started_wall": started_wall,
        "queued": (queued.at - started) * 1000,
        "total": (document.at - started) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--size", type=int, default=256, help="Side of the square test photo, px.")
    args = parser.parse_args()

    photo = photo_bytes(args.size, args.size)
    with tempfile.TemporaryDirectory() as tmp, claimed_redis_db() as redis_url, FakeBotAPI() as api:
        work = Path(tmp)
        env = stack_env(api, work, redis_url, ATELIER_LOG_LEVEL="WARNING")
        migrate(env["ATELIER_DATABASE_URL"])
        worker = start_worker(env, work / "worker.log", noop=True)
        bot = start_bot(env, work / "bot.log")
        try:
            api.wait_for_call("getUpdates", timeout=60)
            for i in range(WARM_UP_JOBS):  # the worker's pool child and every connection warm up
                run_job(api, WARM_UP_CHATS + i, photo)
            runs = [run_job(api, MEASURED_CHATS + i, photo) for i in range(args.jobs)]
        except TimeoutError:
            print((work / "bot.log").read_text()[-4000:], (work / "worker.log").read_text()[-4000:])
            raise
        finally:
            stop(bot)
            stop(worker, timeout_s=30)
        split = stage_split(env["ATELIER_DATABASE_URL"], runs)

    totals = [r["total"] for r in runs]
    print(
        f"service overhead, no-op pipeline, {args.jobs} sequential jobs, {args.size}x{args.size} photo "
        "(update injected -> document uploaded)"
    )
    print(
        f"  p50 {percentile(totals, 50):.1f} ms   p95 {percentile(totals, 95):.1f} ms   "
        f"mean {statistics.fmean(totals):.1f} ms   max {max(totals):.1f} ms"
    )
    print("  median per stage (ms):")
    for name, values in split.items():
        print(f"    {name:<38} {statistics.median(values):7.1f}")
    ok = percentile(totals, 50) <= 50 and percentile(totals, 95) <= 150
    print("  targets p50 <= 50 ms, p95 <= 150 ms:", "met" if ok else "MISSED")
    return 0


def stage_split(database_url: str, runs: list[dict[str, float]]) -> dict[str, list[float]]:
    """Where the time goes: the fake server's clock plus the job rows' timestamps (wall clock)."""
    store = JobStore(database_url)
    jobs = Job.__table__.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(jobs.chat_id, jobs.created_at, jobs.started_at, jobs.finished_at)).all()
    store.close()
    by_chat = {int(row.chat_id): row for row in rows}
    split: dict[str, list[float]] = {name: [] for name in STAGES}
    for i, run in enumerate(runs):
        row = by_chat[MEASURED_CHATS + i]
        created, started, finished = (
            (moment.timestamp() - run["started_wall"]) * 1000
            for moment in (row.created_at, row.started_at, row.finished_at)
        )
        for name, value in zip(
            STAGES,
            (created, run["queued"], started - created, finished - started, run["total"] - finished),
            strict=True,
        ):
            split[name].append(value)
    return split


if __name__ == "__main__":
    sys.exit(main())
