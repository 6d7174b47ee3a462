"""Child processes of a one-machine deployment (``atelier serve``, ``atelier demo``).

Children are tied to the parent's life (PR_SET_PDEATHSIG on Linux): a ``kill -9`` of the parent must not
leave an orphan worker consuming jobs beside the one the restarted deployment starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.config import Settings

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the parent's shutdown path still stops the child
        pass


def spawn_worker(
    settings: Settings,
    redis_url: str,
    queues: Sequence[str],
    concurrency: int,
    *,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """``atelier worker`` as a child process sharing this process's settings and Redis; its output goes to
    ``log_path`` when given (a console conversation would drown in worker logs), else to ours."""
    env = dict(os.environ)
    env["ATELIER_REDIS_URL"] = redis_url
    env["ATELIER_DATA_DIR"] = str(settings.data_dir.resolve())
    env["ATELIER_DATABASE_URL"] = settings.resolved_database_url
    env["ATELIER_MODELS__TIER"] = settings.models.tier
    command = [
        sys.executable,
        "-m",
        "bots.cli",
        "worker",
        "--queues",
        ",".join(queues),
        "--concurrency",
        str(concurrency),
    ]
    if log_path is None:
        return subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 30.0) -> None:
    """Warm shutdown first (Celery re-queues what it has not finished), then kill."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: the bots' shutdown signal (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread / not Unix
            loop.add_signal_handler(sig, stop.set)
    return stop


# Threads for the studio's blocking calls (database, blob store, broker publish) in a bot process. asyncio's
# default pool has cpu+4 threads: with Redis answering slowly, a burst of /unmask publishes would occupy all
# of them and every other reply (even /status) would queue behind. The calls are I/O waits, not CPU work.
BOT_THREADS = 64


def widen_thread_pool() -> None:
    """Give the running loop's ``asyncio.to_thread`` calls ``BOT_THREADS`` threads."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(BOT_THREADS, thread_name_prefix="studio"))
