"""A worker's ``/metrics`` and ``/healthz`` (``atelier worker --metrics-port 9101``).

A small threaded HTTP server in the worker's main process. ``/metrics`` adds up what every process of the
prefork pool recorded (prometheus-client's multiprocess mode; why, in ``core.metrics``). ``/healthz`` is 200
when Redis answers PING and the job database ``SELECT 1``, 503 with the reasons as JSON otherwise.

``use_multiprocess_dir`` must run before anything imports prometheus-client: the library chooses between
in-process and file-backed values when it is imported. This module therefore imports it only inside
functions.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
from sqlalchemy import create_engine

from core.config import Settings
from core.health import Check, database_check, probe, redis_check

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def use_multiprocess_dir() -> Path:
    """Point prometheus-client at a fresh directory for this worker's processes (the pool children inherit
    the environment through ``fork``). One set by the operator is used, emptied first: samples of an
    earlier run would otherwise be added to this one's."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its multiprocess directory was set")
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="atelier-metrics-"))
    # The library's own switch, not an Atelier setting: prometheus-client reads it at import.
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def drop_multiprocess_dir(path: Path) -> None:
    if path.name.startswith("atelier-metrics-"):  # only one this module made
        shutil.rmtree(path, ignore_errors=True)


def on_pool_process_start(queues: str) -> None:
    """``worker_process_init``: this pool child counts as living until it ends."""
    from core.metrics import WORKER_PROCESSES

    WORKER_PROCESSES.labels(queues).set(1)


def on_pool_process_end(**_: object) -> None:
    """``worker_process_shutdown``: drop this child's live gauges (its counters stay in the sums)."""
    _mark_dead(os.getpid())


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


def _sweep_dead_children(path: str) -> None:
    """A child killed with SIGKILL never ran its shutdown hook: its live gauges go at the next scrape."""
    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        match = _LIVE_FILE.search(name)
        if match and not psutil.pid_exists(int(match.group(1))):
            _mark_dead(int(match.group(1)))


def metrics_text() -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    path = os.environ.get(MULTIPROC_ENV)
    if not path:  # not a pool (tests, one process): this process's own registry
        from core.metrics import render

        return render()
    _sweep_dead_children(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


def worker_checks(settings: Settings) -> dict[str, Check]:
    assert settings.redis_url, "the worker resolves its Redis before it serves"
    engine = create_engine(settings.resolved_database_url, pool_pre_ping=True, pool_size=1)
    return {"redis": redis_check(settings.redis_url), "database": database_check(engine)}


def serve_monitoring(host: str, port: int, checks: Mapping[str, Check]) -> ThreadingHTTPServer:
    """Serve ``/metrics`` and ``/healthz`` on ``host:port`` from a daemon thread; returns the server (its
    ``server_address`` holds the bound port when ``port`` is 0)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, metrics_text(), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/healthz":
                health = probe(checks)
                body = json.dumps(health.as_json()).encode()
                self._answer(200 if health.ok else 503, body, "application/json")
            else:
                self._answer(404, b"not found\n", "text/plain")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # scrapes every few seconds: no log
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    log.info("metrics and health on http://%s:%d/metrics, /healthz", host, server.server_address[1])
    return server
