"""The Telegram deployment as separate processes, for end-to-end tests and benchmarks: the real bot
(``run_bot``, as ``atelier bot telegram`` runs it) and a real Celery worker (``run_worker``) against a real
Redis, both configured only through ``ATELIER_*`` variables, talking to the local fake Bot API."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from PIL import Image

from bots.processes import stop_process
from core.imaging.pipelines.jobio import JobInputs, JobOutputs
from tests.e2e.fake_bot_api import FakeBotAPI
from tests.services import redis_address

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY_MODULES = ("torch", "diffusers", "transformers", "ultralytics", "mediapipe", "cv2")

# The bot, exactly as the CLI starts it; on exit it reports which heavy libraries it had imported.
BOT_CODE = f"""
import asyncio, sys
from core.config import Settings
from core.logs import configure_logging
from bots.telegram.app import run_bot
settings = Settings()
configure_logging(settings.log_level)
asyncio.run(run_bot(settings))
print("heavy modules:", sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules), flush=True)
"""

WORKER_CODE = """
from core.config import Settings
from core.logs import configure_logging
from jobs.worker import run_worker
settings = Settings()
configure_logging(settings.log_level)
{register}
run_worker(settings, {queues!r}, concurrency=1)
"""
NOOP_REGISTRATION = """
from jobs.runtime import register_pipeline
from tests.e2e.stack import NoopPipeline
register_pipeline("unmask", lambda settings: NoopPipeline())
"""


class NoopPipeline:
    """Returns the input unchanged: measures the service around a pipeline, not the pipeline."""

    def run_job(self, inputs: JobInputs, progress: object = None) -> JobOutputs:
        return JobOutputs(inputs.image, Image.new("L", inputs.image.size, 0))


@contextmanager
def claimed_redis_db() -> Iterator[str]:
    """The URL of a Redis database on the tests' server (``tests/services.py``) that no other test run uses
    meanwhile, flushed before and after. Claims follow the integration tests' convention (a lock key per
    database number in database 0), so concurrent runs of either suite never share a broker or an event
    channel."""
    host, port = redis_address()
    admin = redis.Redis(host=host, port=port)
    token = uuid.uuid4().hex
    db = next(
        (n for n in range(1, 16) if admin.set(f"atelier-test:db-lock:{n}", token, nx=True, ex=3600)), None
    )
    if db is None:
        raise RuntimeError(f"no free Redis database on {host}:{port}")
    database = redis.Redis(host=host, port=port, db=db)
    database.flushdb()
    try:
        yield f"redis://{host}:{port}/{db}"
    finally:
        database.flushdb()
        database.close()
        if admin.get(f"atelier-test:db-lock:{db}") == token.encode():
            admin.delete(f"atelier-test:db-lock:{db}")
        admin.close()


def stack_env(api: FakeBotAPI, work_dir: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        ATELIER_DATA_DIR=str(work_dir / "data"),
        ATELIER_DATABASE_URL=f"sqlite:///{work_dir / 'atelier.db'}",
        ATELIER_REDIS_URL=redis_url,
        ATELIER_TELEGRAM__TOKEN=api.token,
        ATELIER_TELEGRAM__API_URL=api.url,
        ATELIER_MODELS__TIER="offline",
        ATELIER_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


def start(code: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def start_bot(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    return start(BOT_CODE, env, log_path)


def start_worker(
    env: dict[str, str], log_path: Path, *, noop: bool = False, queues: tuple[str, ...] = ("gpu",)
) -> subprocess.Popen[bytes]:
    code = WORKER_CODE.format(register=NOOP_REGISTRATION if noop else "", queues=list(queues))
    return start(code, env, log_path)


def stop(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> int:
    """SIGTERM (the clean shutdown path), then SIGKILL if it does not exit in time."""
    stop_process(process, grace_s=timeout_s)
    return process.returncode


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG", image.format
        return image.size
