"""The broker: the embedded Redis keeps queued jobs across a ``kill -9`` (R1), and workers refuse settings
that would lose or duplicate jobs (R4). These tests run their own Redis servers, never the shared one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fabric_harness import WORKER_SCRIPT, Fabric, wait_until

from core.config import Settings
from core.ports import JobState
from core.studio.service import bootstrap
from jobs.broker import (
    BrokerMisconfigured,
    EmbeddedRedis,
    check_redis,
    kombu_url,
    redis_server_binary,
    start_embedded_redis,
)
from jobs.celery_app import create_app
from jobs.queue import CeleryJobQueue
from tests.fakes import without_quotas

pytestmark = pytest.mark.integration


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = start_embedded_redis(tmp_path / "redis")
    yield server
    server.close()


@pytest.fixture
def plain_redis(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start a throwaway redis-server with the given extra arguments; returns its redis-py URL."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> str:
        socket_path = tmp_path / f"plain-{len(processes)}.sock"
        processes.append(
            subprocess.Popen(
                [
                    redis_server_binary(),
                    "--port",
                    "0",
                    "--unixsocket",
                    str(socket_path),
                    "--dir",
                    str(tmp_path),
                    *args,
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        url = f"unix://{socket_path}?db=0"
        wait_until(lambda: socket_path.exists() and redis.Redis.from_url(url).ping(), 10, "redis-server")
        return url

    yield start
    for process in processes:
        process.kill()
        process.wait()


def test_the_embedded_redis_is_set_up_as_a_broker_needs(embedded: EmbeddedRedis, tmp_path: Path) -> None:
    client = redis.Redis.from_url(embedded.url, decode_responses=True)
    assert client.config_get("appendonly")["appendonly"] == "yes"
    assert client.config_get("appendfsync")["appendfsync"] == "everysec"
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    assert client.config_get("port")["port"] == "0"  # unix socket only: nothing on the network reaches it
    assert check_redis(embedded.url) == []
    assert kombu_url(embedded.url) == f"redis+socket://{embedded.socket_path}?virtual_host=0"

    sibling = start_embedded_redis(tmp_path / "redis")  # another process of the deployment attaches
    assert sibling.pid == embedded.pid and sibling.process is None
    sibling.close()
    assert client.ping()  # only the process that started it stops it


@pytest.mark.timeout(90)
def test_r1_jobs_queued_in_redis_survive_its_kill_9(embedded: EmbeddedRedis, tmp_path: Path) -> None:
    settings = without_quotas(Settings(data_dir=tmp_path / "data", redis_url=embedded.url))
    studio = bootstrap(settings, queue=CeleryJobQueue(create_app(settings)))
    fabric = Fabric(tmp_path, settings, studio)
    try:
        jobs = [fabric.submit((30, 60, 90), 96 + n) for n in range(20)]
        client = redis.Redis.from_url(embedded.url)
        assert client.llen("gpu") == 20
        # appendfsync everysec: what was queued more than a second before the crash is on disk.
        time.sleep(1.2)
        os.kill(embedded.pid, signal.SIGKILL)
        assert embedded.process is not None and embedded.process.wait(timeout=10) == -signal.SIGKILL

        restarted = start_embedded_redis(tmp_path / "redis")
        try:
            assert restarted.url == embedded.url and restarted.pid != embedded.pid
            assert redis.Redis.from_url(restarted.url).llen("gpu") == 20
            fabric.start_worker(seconds=0.05)
            fabric.start_delivery()
            wait_until(lambda: all(fabric.sender.delivered(j) for j in jobs), 60, "all 20 jobs delivered")
            assert all(fabric.job(j).state is JobState.DONE for j in jobs)
            assert sorted(fabric.sender.results) == sorted(jobs)
        finally:
            fabric.close()
            restarted.close()
    finally:
        studio.store.close()


def test_r4_an_evicting_redis_is_refused_and_one_without_persistence_warned_about(
    plain_redis: Callable[..., str],
) -> None:
    evicting = plain_redis("--maxmemory-policy", "allkeys-lru", "--save", "", "--appendonly", "no")
    with pytest.raises(BrokerMisconfigured, match="noeviction"):
        check_redis(evicting)
    volatile = plain_redis("--maxmemory-policy", "noeviction", "--save", "", "--appendonly", "no")
    [warning] = check_redis(volatile)
    assert "no persistence" in warning


def run_worker_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    settings_env = {
        "ATELIER_DATA_DIR": str(tmp_path / "data"),
        **{f"ATELIER_{key.upper()}": value for key, value in env.items()},
    }
    return subprocess.run(
        [sys.executable, str(WORKER_SCRIPT)],
        env={**os.environ, **settings_env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_r4_workers_refuse_to_start_with_unsafe_settings(
    tmp_path: Path, plain_redis: Callable[..., str]
) -> None:
    too_long = run_worker_process(
        tmp_path,
        redis_url="redis://127.0.0.1:1/0",
        worker__gpu_time_limit_s="600",
        worker__visibility_timeout_s="300",
    )
    assert too_long.returncode != 0 and "not below the visibility timeout" in too_long.stderr

    evicting = plain_redis("--maxmemory-policy", "volatile-lru")
    refused = run_worker_process(tmp_path, redis_url=evicting)
    assert refused.returncode != 0 and "maxmemory-policy" in refused.stderr
