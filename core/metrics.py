"""The studio's Prometheus metrics, defined once, for the bot process and the workers alike.

Both sides import this module and count what happens in them: the bot process counts jobs accepted and
refused (``core.studio.jobdesk``) and deliveries (``core.studio.delivery``), and reads the queue depth and
the living workers at each scrape (``StudioCollector``); a worker counts jobs finished and failed and times
the queue wait and each pipeline stage (``jobs.runtime``). Each process serves its own ``/metrics``: the bot
on its web port (``bots.web.ops``), a worker on ``atelier worker --metrics-port`` (``jobs.monitor``).

Workers are Celery prefork pools: the jobs run in pool children, and a scrape reaches the pool's main
process. A worker therefore runs prometheus-client's *multiprocess mode*: ``jobs.monitor`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory per ``atelier worker`` before anything imports
prometheus-client, every process of the pool writes its samples to memory-mapped files there, and the main
process's ``/metrics`` adds them up (``MultiProcessCollector``). The alternatives were worse: a port per
pool child changes whenever Celery replaces a child, and sending samples to the parent is a second,
home-made channel. The mode's limits shape what is here: no custom collectors and no ``set_function``
on the worker side (the queue depth and the worker count are read by the bot process instead), gauges only
with an explicit multiprocess mode, and counters of a replaced child stay in the sum (as they must).

The bot process is one process (threads and asyncio) and uses the default registry as it is.

Labels stay bounded: ``kind`` is a name from ``core.kinds``, ``reason`` a ``UserError`` key, ``stage`` a
pipeline's stage key, ``platform`` a chat platform.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.errors import UserError

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

JOBS_ACCEPTED = Counter("atelier_jobs_accepted", "Jobs written and handed to the queue.", ["kind"])
JOBS_REFUSED = Counter(
    "atelier_jobs_refused", "Jobs refused before they were queued, by UserError key.", ["kind", "reason"]
)
JOBS_FINISHED = Counter("atelier_jobs_finished", "Jobs a worker finished (done).", ["kind"])
JOBS_FAILED = Counter("atelier_jobs_failed", "Jobs that ended failed, by error key.", ["kind", "reason"])
TIME_IN_QUEUE = Histogram(
    "atelier_job_queue_seconds",
    "From the job row's creation to its first attempt's start.",
    ["kind"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
)
STAGE_SECONDS = Histogram(
    "atelier_stage_seconds",
    "Seconds a pipeline stage took (JobOutputs.timings).",
    ["kind", "stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
DELIVERIES = Counter(
    "atelier_deliveries",
    "Delivery outcomes: sent, undeliverable (user blocked the bot, chat gone), rejected (refused for good), "
    "given_up (too many failed sends).",
    ["platform", "outcome"],
)
DELIVERY_RETRIES = Counter(
    "atelier_delivery_retries", "Sends that failed and were scheduled again.", ["platform"]
)
# Worker side, multiprocess mode: each pool child sets 1 while it lives; "livesum" drops a dead child.
WORKER_PROCESSES = Gauge(
    "atelier_worker_processes",
    "Living pool processes of this worker.",
    ["queues"],
    multiprocess_mode="livesum",
)


@contextmanager
def counting_refusals(kind: str) -> Iterator[None]:
    """Counts a ``UserError`` raised inside as a refused job of ``kind`` (once, however many of these
    blocks it passes through on its way out) and lets it go on."""
    try:
        yield
    except UserError as error:
        if not getattr(error, "_counted", False):
            JOBS_REFUSED.labels(kind, error.key).inc()
            error._counted = True  # type: ignore[attr-defined]
        raise


def observe_stages(kind: str, timings: Mapping[str, float]) -> None:
    for stage, seconds in timings.items():
        STAGE_SECONDS.labels(kind, stage).observe(seconds)


class Depth(Protocol):
    """One queue's counts (``core.store.QueueDepth``, what /admin shows)."""

    @property
    def queue(self) -> str: ...
    @property
    def queued(self) -> int: ...
    @property
    def running(self) -> int: ...


class StudioCollector(Collector):
    """Gauges read at scrape time in the bot process: the queue depth from the job database (the source of
    truth, as /admin reads it) and the workers that answer a Celery ping. The ping waits for replies, so its
    answer is kept ``ping_ttl_s``; a failed read leaves its gauge out of the scrape rather than report 0."""

    def __init__(
        self,
        depths: Callable[[], Sequence[Depth]],
        workers: Callable[[], Sequence[str]] | None = None,
        *,
        ping_ttl_s: float = 15.0,
    ) -> None:
        self.depths, self.workers, self.ping_ttl_s = depths, workers, ping_ttl_s
        self._pinged: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            depths = self.depths()
        except Exception:
            log.warning("queue depth unavailable for the metrics", exc_info=True)
        else:
            family = GaugeMetricFamily(
                "atelier_queue_depth",
                "Jobs per queue and state, from the job database.",
                labels=["queue", "state"],
            )
            for depth in depths:
                family.add_metric([depth.queue, "queued"], depth.queued)
                family.add_metric([depth.queue, "running"], depth.running)
            yield family
        alive = self._workers_alive()
        if alive is not None:
            yield GaugeMetricFamily(
                "atelier_workers_alive", "Workers that answered a Celery ping.", value=alive
            )

    def _workers_alive(self) -> int | None:
        if self.workers is None:
            return None
        with self._lock:
            now = time.monotonic()
            if self._pinged is None or now - self._pinged[0] >= self.ping_ttl_s:
                try:
                    self._pinged = (now, len(self.workers()))
                except Exception:
                    log.warning("could not ping the workers for the metrics", exc_info=True)
                    self._pinged = None
                    return None
            return self._pinged[1]


def render(*collectors: Collector, registry: Collector = REGISTRY) -> bytes:
    """The text exposition of ``registry`` followed by ``collectors`` (each scrape's own readings)."""
    return b"".join(generate_latest(source) for source in (registry, *collectors))
