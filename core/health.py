"""Health checks for ``/healthz``: the dependencies a process cannot work without answer right now.

Each check is a name and a function that raises when its dependency is away; ``probe`` runs them all and
says which failed and why. The bot process and each worker serve the answer (``bots.web.ops``,
``jobs.monitor``): 200 when every check passed, 503 with the reasons otherwise, so that an orchestrator
restarts or routes around a process that lost Redis or the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


def probe(checks: Mapping[str, Check]) -> Health:
    failures: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
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
