"""Health checks for ``/healthz``: the dependencies a process cannot work without answer right now.

Each check is a name and a function that raises when its dependency is away; ``probe`` runs them all and
says which failed and why. The bot process and each worker serve the answer (``bots.web.ops``,
``jobs.monitor``): 200 when every check passed, 503 with the reasons otherwise, so that an orchestrator
restarts or routes around a process that lost Redis or the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import redis
from sqlalchemy import Engine, text

Check = Callable[[], None]
# A health check must answer within the orchestrator's probe timeout, whatever a dependency does.
TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Health:
    failures: dict[str, str] = field(default_factory=dict)  # check name -> why it failed

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, object]:
        return {"status": "ok" if self.ok else "unhealthy", "failures": self.failures}


# Checks run in threads of their own, so that one hung dependency (a database that accepted the connection
# and never answers) fails its check at the deadline instead of holding the answer; its thread is left to
# finish, and while it hangs the next probes' threads come from the rest of the pool.
_CHECKS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health-check")


def probe(checks: Mapping[str, Check], timeout_s: float = TIMEOUT_S) -> Health:
    """Runs every check at once; each must pass within ``timeout_s``."""
    running = {name: _CHECKS.submit(check) for name, check in checks.items()}
    deadline = time.monotonic() + timeout_s
    failures: dict[str, str] = {}
    for name, future in running.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            failures[name] = f"no answer within {timeout_s:g} s"
        except Exception as error:
            failures[name] = f"{type(error).__name__}: {error}"[:300]
    return Health(failures)


def redis_check(url: str) -> Check:
    """PING on ``url`` (one client kept: each check reuses its connection while Redis stays up)."""
    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)

    def ping() -> None:
        if not client.ping():
            raise ConnectionError("no PONG")

    return ping


def database_check(engine: Engine) -> Check:
    """``SELECT 1`` on the job database."""

    def select_one() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    return select_one
