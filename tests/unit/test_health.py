"""``/healthz``'s checks answer in time whatever a dependency does."""

from __future__ import annotations

import threading
import time

from core.health import probe


def test_a_hung_dependency_fails_its_check_in_time_and_the_others_still_run() -> None:
    release = threading.Event()

    def hung() -> None:  # a database that accepts the connection and never answers
        release.wait(30)

    def fine() -> None:
        pass

    began = time.monotonic()
    try:
        health = probe({"database": hung, "redis": fine}, timeout_s=0.3)
    finally:
        release.set()
    assert time.monotonic() - began < 2.0
    assert not health.ok and list(health.failures) == ["database"]
    assert "0.3 s" in health.failures["database"]


def test_a_failing_check_says_why() -> None:
    def refused() -> None:
        raise ConnectionError("connection refused")

    health = probe({"redis": refused})
    assert health.failures == {"redis": "ConnectionError: connection refused"}
