"""``atelier worker``: a Celery worker for some queues, after the start-up checks that keep jobs safe."""

from __future__ import annotations

import logging
import os

import structlog
from celery import signals

from core.config import Settings
from core.kinds import QUEUES, queue_of
from core.store import migrate
from jobs import monitor, runtime
from jobs.broker import ensure_redis
from jobs.celery_app import check_time_limits, create_app
from jobs.queue import CeleryJobQueue
from jobs.reaper import install_reaper
from jobs.tasks import register_tasks

log = logging.getLogger(__name__)


def run_worker(
    settings: Settings,
    queues: list[str],
    concurrency: int | None = None,
    *,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """Consume ``queues`` until stopped (SIGTERM: finish the running jobs; SIGKILL: they are redelivered).

    Refuses to start (``jobs.broker.BrokerMisconfigured``) when a time limit is not below the visibility
    timeout or the configured Redis may evict queued jobs. Without ``settings.redis_url`` it starts, or
    attaches to, the embedded Redis in ``settings.redis_dir``. With ``metrics_port``, serves ``/metrics``
    and ``/healthz`` there (``jobs.monitor``; the caller set up the multiprocess directory first).
    """
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown or not queues:
        raise ValueError(f"unknown queues {unknown}; choose from {', '.join(QUEUES)}")
    check_time_limits(settings.worker)
    embedded = ensure_redis(settings)
    if embedded is not None:
        settings = settings.model_copy(update={"redis_url": embedded.url})
    migrate(settings.resolved_database_url)
    warn_about_face_prior(settings, queues)
    if not settings.moderation.enabled:
        log.warning("the content check is OFF (ATELIER_MODERATION__ENABLED=false): results go out unchecked")

    runtime.configure(settings, queues)
    signals.worker_process_init.connect(runtime.on_process_start, weak=False)
    monitoring = None
    if metrics_port is not None:
        monitoring = monitor.serve_monitoring(metrics_host, metrics_port, monitor.worker_checks(settings))
        label = ",".join(queues)
        signals.worker_process_init.connect(lambda **_: monitor.on_pool_process_start(label), weak=False)
        signals.worker_process_shutdown.connect(monitor.on_pool_process_end, weak=False)
    app = create_app(settings)
    register_tasks(app, settings)
    install_reaper(app, CeleryJobQueue(app))
    argv = [
        "worker",
        f"--queues={','.join(queues)}",
        f"--concurrency={concurrency or settings.worker.concurrency}",
        "--pool=prefork",
        # Workers need no gossip or start-up sync with each other; both cost broker traffic.
        "--without-gossip",
        "--without-mingle",
        f"--loglevel={settings.log_level.upper()}",
        f"--hostname=atelier-{'-'.join(queues)}-{os.getpid()}@%h",
    ]
    log.info("worker for %s starting (tier %s)", ",".join(queues), settings.models.tier)
    try:
        app.worker_main(argv)
    finally:
        if monitoring is not None:
            monitoring.shutdown()
        if embedded is not None:
            embedded.close()


def warn_about_face_prior(settings: Settings, queues: list[str]) -> None:
    """The face prior's weights are not licensed for commercial use: every worker that may load them says
    so at start-up (``atelier serve`` runs its workers through here too)."""
    from core.imaging.backends.offline.face_prior import LICENCE, licence_notice

    notice = licence_notice(settings.models)
    if notice is None or queue_of("unmask") not in queues:
        return
    structlog.get_logger(__name__).warning(
        "face_prior_enabled",
        face_prior=settings.models.face_prior,
        tier=settings.models.tier,
        licence=LICENCE,
        commercial_use=False,
        notice=notice,
    )
