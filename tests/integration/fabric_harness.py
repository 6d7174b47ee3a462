"""The job fabric's integration harness: real worker processes (``fabric_worker.py``), the real Studio and
a real Deliverer with an in-memory chat, all on a private Redis database of the tests' server
(``tests/services.py``)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from PIL import Image
from sqlalchemy import select

from core.config import Settings
from core.events import RedisEventBus
from core.ports import ChatRef, JobView
from core.store.models import Job
from core.studio.commands import Buttons
from core.studio.delivery import Attachment, Deliverer
from core.studio.sent_parts import SentParts
from core.studio.service import Studio

WORKER_SCRIPT = Path(__file__).with_name("fabric_worker.py")
CHAT = ChatRef(platform="telegram", user_id="7", chat_id="70", lang="en")


def png(color: tuple[int, int, int], size: int = 96) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


def wait_until(
    condition: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.05
) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took. Fails the test at the deadline."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)
    return time.monotonic() - started


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pool_children(self) -> list[int]:
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """``kill -9`` the whole worker: main process and pool children (one process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


class RecordingSender:
    platform = "telegram"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: list[str] = []
        self.failures: list[tuple[str, str]] = []

    async def show_progress(self, job: JobView, text: str, buttons: Buttons = ()) -> None:
        pass

    async def send_result(
        self,
        job: JobView,
        result_png: bytes,
        caption: str,
        attachments: Sequence[Attachment] = (),
        buttons: Buttons = (),
        parts: SentParts | None = None,
    ) -> None:
        assert Image.open(io.BytesIO(result_png)).size == (job.params["width"], job.params["height"])
        with self.lock:
            self.results.append(job.id)

    async def send_text(self, job: JobView, text: str, parts: SentParts | None = None) -> None:
        with self.lock:
            self.failures.append((job.id, text))

    def delivered(self, job_id: str) -> int:
        with self.lock:
            return self.results.count(job_id) + [j for j, _ in self.failures].count(job_id)


@dataclass
class Fabric:
    root: Path
    settings: Settings
    studio: Studio
    sender: RecordingSender = field(default_factory=RecordingSender)
    workers: list[WorkerProcess] = field(default_factory=list)
    _delivery: tuple[asyncio.AbstractEventLoop, asyncio.Task[None], threading.Thread] | None = None

    def start_worker(
        self,
        *,
        seconds: float = 1.0,
        time_limit_s: int = 30,
        visibility_timeout_s: int = 60,
        pipeline: str = "scripted",
        tier: str = "offline",
        reaper: bool = True,
        ready_timeout_s: float = 60.0,
    ) -> WorkerProcess:
        env = dict(os.environ)
        env.update(
            ATELIER_DATA_DIR=str(self.settings.data_dir),
            ATELIER_DATABASE_URL=self.settings.resolved_database_url,
            ATELIER_REDIS_URL=str(self.settings.redis_url),
            ATELIER_MODELS__TIER=tier,
            # Every queue's limit must stay below the visibility timeout (any worker restores any queue).
            ATELIER_WORKER__GPU_TIME_LIMIT_S=str(time_limit_s),
            ATELIER_WORKER__CPU_TIME_LIMIT_S=str(time_limit_s),
            ATELIER_WORKER__TRAIN_TIME_LIMIT_S=str(time_limit_s),
            ATELIER_WORKER__VISIBILITY_TIMEOUT_S=str(visibility_timeout_s),
            ATELIER_WORKER__MAX_ATTEMPTS=str(self.settings.worker.max_attempts),
            FABRIC_PIPELINE=pipeline,
            FABRIC_SECONDS=str(seconds),
            FABRIC_RUN_LOG=str(self.run_log),
            FABRIC_REAPER="on" if reaper else "off",
        )
        log_path = self.root / f"worker-{len(self.workers)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes the pool children too
            )
        worker = WorkerProcess(process, log_path)
        self.workers.append(worker)
        wait_until(
            lambda: " ready." in worker.log or worker.process.poll() is not None,
            ready_timeout_s,
            "worker start",
        )
        assert worker.process.poll() is None, worker.log
        return worker

    @property
    def run_log(self) -> Path:
        return self.root / "runs.log"

    def runs(self, what: str, size: int) -> int:
        """How many times the scripted pipeline logged ``what`` (start/done) for a photo of ``size``."""
        if not self.run_log.exists():
            return 0
        wanted = [what, f"{size}x{size}"]
        return sum(1 for line in self.run_log.read_text().splitlines() if line.split()[1:] == wanted)

    def submit(self, color: tuple[int, int, int], size: int = 96) -> str:
        return self.studio.submit_unmask(CHAT, png(color, size)).job_id

    def job(self, job_id: str) -> JobView:
        return self.studio.job(job_id)

    def lease_pid(self, job_id: str) -> int | None:
        with self.studio.store.engine.connect() as conn:
            owner = conn.execute(select(Job.lease_owner).where(Job.id == job_id)).scalar()
        return int(owner.rsplit(":", 2)[1]) if owner else None

    def start_delivery(self) -> None:
        deliverer = Deliverer(
            self.studio.store,
            self.studio.blobs,
            RedisEventBus(str(self.settings.redis_url)),
            {"telegram": self.sender},
            sweep_interval_s=1.0,
        )
        loop = asyncio.new_event_loop()
        task = loop.create_task(deliverer.run())
        thread = threading.Thread(target=lambda: loop.run_until_complete(_quietly(task)), daemon=True)
        thread.start()
        self._delivery = (loop, task, thread)

    def close(self) -> None:
        if self._delivery is not None:
            loop, task, thread = self._delivery
            loop.call_soon_threadsafe(task.cancel)
            thread.join(timeout=10)
        for worker in self.workers:
            worker.stop()
        self.studio.store.close()


async def _quietly(task: asyncio.Task[None]) -> None:
    try:
        await task
    except asyncio.CancelledError:
        pass
