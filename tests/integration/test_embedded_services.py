"""``make test`` on a machine with nothing but Python: with no server named and none found, the suite starts
its own Redis and PostgreSQL (``tests/services.py``), runs on them, and leaves nothing behind. Proved on a
small part of the suite, in a pytest of its own that may not look at the usual addresses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.services import PROBE_VARIABLE

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

REPO_ROOT = Path(__file__).resolve().parents[2]
SUBSET = [
    # The job store on SQLite and on PostgreSQL.
    "tests/unit/test_store.py::test_a_new_job_is_queued_with_aware_utc_timestamps",
    # A real worker process taking a job from Celery on Redis.
    "tests/integration/test_admin_workers.py::test_status_names_the_living_workers_and_counts_the_queues",
]
STARTED = re.compile(
    r"tests: no (Redis|PostgreSQL) given or found, started one at (\S+) \(pid (\d+), in (\S+)\)"
)


@pytest.mark.timeout(180)
def test_the_suite_starts_its_own_servers_when_none_is_given_or_found() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("ATELIER_")}
    env[PROBE_VARIABLE] = "off"  # as if nothing listened on 127.0.0.1:6379 and :5432
    started_at = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *SUBSET],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    seconds = time.monotonic() - started_at
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "3 passed" in output, output[-6000:]
    servers = {kind: (url, int(pid), Path(folder)) for kind, url, pid, folder in STARTED.findall(output)}
    assert set(servers) == {"Redis", "PostgreSQL"}, output[-6000:]
    assert ":6379" not in servers["Redis"][0] and ":5432/" not in servers["PostgreSQL"][0]
    for _, pid, folder in servers.values():  # stopped and removed when the run ended
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert not folder.exists()
    assert seconds < 60, f"the run on its own servers took {seconds:.0f} s"
