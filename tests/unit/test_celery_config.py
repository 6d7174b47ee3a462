"""The Celery configuration that the reliability of the job fabric rests on, and the broker URL helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery

from core.config import Settings, WorkerSettings
from core.events import default_channel, redis_db
from core.kinds import KINDS
from jobs.broker import BrokerMisconfigured, kombu_url, redis_url, socket_path_for
from jobs.celery_app import check_time_limits, create_app, soft_time_limit
from jobs.tasks import register_tasks

# Only read into the configuration, never connected to: a reserved name that resolves nowhere.
BROKER_URL = "redis://broker.test:6379/4"


def test_the_app_acks_late_requeues_on_worker_loss_and_prefetches_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=BROKER_URL)
    settings.worker.visibility_timeout_s = 7200
    conf = create_app(settings).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_url == BROKER_URL
    assert conf.broker_transport_options["visibility_timeout"] == 7200
    assert conf.broker_transport_options["unacked_restore_throttle"] == 1
    assert conf.broker_transport_options["unacked_restore_interval"] <= 10
    assert conf.task_ignore_result and conf.worker_cancel_long_running_tasks_on_connection_loss is False
    assert conf.task_routes["atelier.unmask"] == {"queue": "gpu"}
    assert {queue.name for queue in conf.task_queues} == {"gpu", "cpu", "train"}


def test_tasks_get_their_queues_time_limits(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=BROKER_URL)
    settings.worker.gpu_time_limit_s = 200
    settings.worker.cpu_time_limit_s = 60
    settings.worker.train_time_limit_s = 3000
    app = create_app(settings)
    register_tasks(app, settings)
    limits = {"gpu": 200, "cpu": 60, "train": 3000}
    for name, kind in KINDS.items():  # every kind a front end can enqueue has its task
        task = app.tasks[f"atelier.{name}"]
        hard = limits[kind.queue]
        assert task.time_limit == hard and task.soft_time_limit == soft_time_limit(hard)
        assert task.acks_late and task.reject_on_worker_lost
    assert {"atelier.unmask", "atelier.suit", "atelier.selfie", "atelier.train"} <= set(app.tasks)
    assert conf_route(app, "atelier.train") == "train" and conf_route(app, "atelier.selfie") == "cpu"


def conf_route(app: Celery, task: str) -> str:
    return str(app.conf.task_routes[task]["queue"])


def test_time_limits_must_stay_below_the_visibility_timeout() -> None:
    check_time_limits(WorkerSettings())  # the defaults are consistent
    with pytest.raises(BrokerMisconfigured, match="train"):
        check_time_limits(WorkerSettings(train_time_limit_s=5 * 3600, visibility_timeout_s=4 * 3600))
    with pytest.raises(BrokerMisconfigured):
        check_time_limits(WorkerSettings(max_attempts=0))
    assert 0 < soft_time_limit(3) < 3


def test_unix_socket_urls_for_redis_py_and_kombu(tmp_path: Path) -> None:
    url = redis_url(Settings(data_dir=tmp_path))
    assert url == f"unix://{(tmp_path / 'redis' / 'redis.sock').resolve()}?db=0"
    assert kombu_url(url) == f"redis+socket://{(tmp_path / 'redis' / 'redis.sock').resolve()}?virtual_host=0"
    assert kombu_url("unix:///run/r.sock?db=3") == "redis+socket:///run/r.sock?virtual_host=3"
    assert kombu_url("redis://h:6379/2") == "redis://h:6379/2"
    assert [redis_db(u) for u in ("redis://h:6379/2", "unix:///s.sock?db=5", "redis://h", "unix:///s")] == [
        2,
        5,
        0,
        0,
    ]
    assert default_channel("redis://h:6379/2") != default_channel("redis://h:6379/3")


def test_long_data_directories_get_a_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    path = socket_path_for(deep)
    assert len(str(path)) <= 100 and path == socket_path_for(deep)


@pytest.mark.parametrize("visibility_s, longest_s", [(40, 20.0), (7200, 60.0)])
def test_a_busy_job_waits_at_most_half_the_visibility_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, visibility_s: int, longest_s: float
) -> None:
    """A message waiting for its countdown longer than the visibility timeout is handed out again meanwhile
    (RELIABILITY.md: never a countdown longer than the visibility timeout)."""
    from types import SimpleNamespace

    from core.store import AttemptAction
    from jobs import runtime, tasks

    settings = Settings(data_dir=tmp_path, redis_url=BROKER_URL)
    for queue in ("gpu", "cpu", "train"):
        setattr(settings.worker, f"{queue}_time_limit_s", 10)
    settings.worker.visibility_timeout_s = visibility_s
    app = create_app(settings)
    monkeypatch.setattr(runtime, "execute", lambda _job_id: runtime.Outcome(AttemptAction.BUSY, 3600.0))
    countdowns: list[float] = []

    class Task:
        request = SimpleNamespace(retries=0)

        def __init__(self) -> None:
            self.app = app

        def retry(self, countdown: float, **_: object) -> Exception:
            countdowns.append(countdown)
            return RuntimeError("retry")

    with pytest.raises(RuntimeError, match="retry"):
        tasks._run(Task(), "job-1")
    assert countdowns == [longest_s]
