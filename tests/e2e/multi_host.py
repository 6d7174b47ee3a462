"""The studio spread over several "hosts" for end-to-end tests: one bot process and worker processes that
share nothing on disk. Each has a data directory of its own; jobs live in a PostgreSQL database made for the
test, blobs in an S3 bucket (the test server's, or MinIO's), work travels over Redis. A host is a set of
processes; ``kill_host`` takes one down the way a machine dies (``SIGKILL``, no clean-up)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from PIL import Image
from sqlalchemy import create_engine, text

from core.imaging.pipelines.jobio import JobInputs, JobOutputs
from tests.e2e.fake_bot_api import FakeBotAPI
from tests.e2e.stack import WORKER_CODE, stack_env, start
from tests.s3_server import S3Server
from tests.services import postgres_admin_url, postgres_url

WORKER_QUEUES = ("gpu", "cpu", "train")

# /tryon on these workers is a pipeline slow enough to kill its worker in the middle of a job; /unmask,
# /suit and the /train jobs keep their real offline pipelines.
SLOW_TRYON_REGISTRATION = """
from jobs.runtime import register_pipeline
from tests.e2e.multi_host import SlowPipeline
register_pipeline("tryon", lambda settings: SlowPipeline())
"""


class SlowPipeline:
    """Returns the photo unchanged after ``seconds``, reporting progress (which extends the job's lease and
    notices a takeover) every ``STEP_S``."""

    STEP_S = 0.25

    def __init__(self, seconds: float = 4.0) -> None:
        self.seconds = seconds

    def run_job(self, inputs: JobInputs, progress: object = None) -> JobOutputs:
        steps = max(1, round(self.seconds / self.STEP_S))
        for step in range(steps):
            if callable(progress):
                progress("inpaint", step / steps)
            time.sleep(self.STEP_S)
        return JobOutputs(inputs.image, Image.new("L", inputs.image.size, 0))


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a PostgreSQL database on the tests' server (``tests/services.py``), created for the caller
    and dropped afterwards (with whatever connections the processes under test left open)."""
    name = f"atelier_e2e_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Host:
    """One process of the deployment and the machine-local directory it owns."""

    name: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def pids(self) -> set[int]:
        """The process and its pool children (whose pid a job's lease names)."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return set()
        return {self.process.pid, *(child.pid for child in children)}


def host_env(
    api: FakeBotAPI,
    work: Path,
    name: str,
    redis_url: str,
    database_url: str,
    s3: S3Server,
    blobs_url: str,
    **extra: str,
) -> dict[str, str]:
    """The ``ATELIER_*`` (and ``AWS_*``) environment of the process ``name``: a data directory of its own,
    the shared database, bucket and Redis."""
    env = stack_env(api, work / name, redis_url, **extra)
    env.update(
        ATELIER_DATABASE_URL=database_url,
        ATELIER_BLOBS__URL=blobs_url,
        ATELIER_BLOBS__ENDPOINT_URL=s3.endpoint_url,
        ATELIER_BLOBS__REGION=s3.region,
        AWS_ACCESS_KEY_ID=s3.access_key,
        AWS_SECRET_ACCESS_KEY=s3.secret_key,
        AWS_DEFAULT_REGION=s3.region,
    )
    for name_ in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name_, None)
    return env


def start_worker_host(env: dict[str, str], name: str, log_dir: Path) -> Host:
    code = WORKER_CODE.format(register=SLOW_TRYON_REGISTRATION, queues=list(WORKER_QUEUES))
    return Host(name, Path(env["ATELIER_DATA_DIR"]), start(code, env, log_dir / f"{name}.log"))


def kill_host(host: Host) -> None:
    """``SIGKILL`` the host's processes at once, parent first (so it cannot start a new pool child)."""
    try:
        processes = [psutil.Process(host.process.pid)]
        processes += processes[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=10)
    host.process.wait(10)


def files_under(directory: Path) -> list[str]:
    """Every file below ``directory``, relative to it (none when it does not exist)."""
    if not directory.is_dir():
        return []
    return sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file())
