"""``/healthz`` and ``/metrics`` of real processes: the bot process's web app on a Redis server of the test's
own (killed mid-test: the tests' shared one is never touched), and ``atelier worker --metrics-port`` started
as the CLI starts it, on a claimed Redis database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from bots.processes import stop_process
from core.config import Settings
from core.studio.service import Studio, bootstrap
from jobs.broker import redis_server_binary
from tests.e2e.stack import claimed_redis_db
from tests.fakes import MemoryQueue
from tests.metrics_scrape import Samples, get_from_bot, parse, value
from tests.s3_server import free_port

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class OwnRedis:
    process: subprocess.Popen[bytes]
    url: str

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    port = free_port()
    server = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    own = OwnRedis(server, f"redis://127.0.0.1:{port}/0")
    try:
        yield own
    finally:
        client.close()
        own.kill()


@pytest.fixture
def studio(tmp_path: Path, own_redis: OwnRedis) -> Iterator[Studio]:
    settings = Settings(data_dir=tmp_path / "data", redis_url=own_redis.url)
    studio = bootstrap(settings, queue=MemoryQueue())
    yield studio
    studio.store.close()


def test_the_bot_is_healthy_while_redis_answers_and_unhealthy_once_it_is_gone(
    studio: Studio, own_redis: OwnRedis
) -> None:
    status, body = get_from_bot(studio, "/healthz", bots=lambda: {"telegram": True})
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"

    own_redis.kill()
    status, body = get_from_bot(studio, "/healthz", bots=lambda: {"telegram": True})
    assert status == 503
    assert set(json.loads(body)["failures"]) == {"redis"}


def test_the_bot_is_unhealthy_when_a_bot_stopped(studio: Studio) -> None:
    status, body = get_from_bot(studio, "/healthz", bots=lambda: {"telegram": True, "discord": False})
    assert status == 503
    assert "discord" in json.loads(body)["failures"]["bots"]


def test_a_worker_serves_its_pool_metrics_and_health_on_its_metrics_port(tmp_path: Path) -> None:
    port = free_port()
    with claimed_redis_db() as redis_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "PROMETHEUS_"))}
        env.update(
            PYTHONPATH=str(REPO_ROOT),
            ATELIER_DATA_DIR=str(tmp_path / "data"),
            ATELIER_DATABASE_URL=f"sqlite:///{tmp_path / 'atelier.db'}",
            ATELIER_REDIS_URL=redis_url,
            ATELIER_MODELS__TIER="offline",
        )
        command = [sys.executable, "-m", "bots.cli", "worker", "--queues", "cpu", "--concurrency", "2"]
        worker = subprocess.Popen([*command, "--metrics-port", str(port)], env=env, cwd=REPO_ROOT)
        try:
            samples = _wait_for_pool(port, worker, children=2)
            assert value(samples, "atelier_worker_processes", queues="cpu") == 2
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            assert health.status_code == 200, health.text
        finally:
            stop_process(worker, grace_s=20)


def _wait_for_pool(port: int, worker: subprocess.Popen[bytes], children: int) -> Samples:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker exited"
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        samples = parse(response.text)
        if value(samples, "atelier_worker_processes", queues="cpu") >= children:
            return samples
        time.sleep(0.3)
    raise AssertionError("the worker's pool never showed up in its metrics")
