"""R3: ``kill -9`` of the whole one-machine deployment (``atelier serve``: bot, embedded Redis, worker) with
jobs accepted, queued and running → after a restart every accepted job is delivered exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fake_bot_api import FakeBotAPI
from tests.e2e.stack import REPO_ROOT, stop

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

JOBS = 4
FIRST_CHAT = 7300001
RESULT_TIMEOUT_S = 180.0


def serve_env(api: FakeBotAPI, work: Path) -> dict[str, str]:
    # No ATELIER_REDIS_URL and no ATELIER_DATABASE_URL: the embedded Redis and SQLite in the data dir, as an
    # operator's first `atelier serve` runs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        ATELIER_DATA_DIR=str(work / "data"),
        ATELIER_TELEGRAM__TOKEN=api.token,
        ATELIER_TELEGRAM__API_URL=api.url,
        ATELIER_TELEGRAM__POLL_TIMEOUT_S="1",
        ATELIER_MODELS__TIER="offline",
        ATELIER_WEB__PORT="0",  # the canvas on any free port: another run may hold 8080
    )
    return env


def start_serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "serve"], cwd=REPO_ROOT, env=env, stdout=out, stderr=out
        )


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as fake:
        yield fake


def test_kill_9_of_serve_with_jobs_in_flight_delivers_each_job_once_after_restart(
    api: FakeBotAPI, tmp_path: Path, shared_data: Path
) -> None:
    env, log = serve_env(api, tmp_path), tmp_path / "serve.log"
    photos = sorted((shared_data / "faces" / "with_mask").glob("wm_00[5-8].jpg"))[:JOBS]
    chats = [FIRST_CHAT + i for i in range(JOBS)]

    serve = start_serve(env, log)
    try:
        api.wait_for_call("getUpdates", timeout=60)
        for chat, photo in zip(chats, photos, strict=True):
            api.send_photo(chat, photo.read_bytes(), caption="/unmask")
        # Every job is accepted (its "Queued" reply is out) before the crash.
        api.wait_for(lambda s: s.method == "sendMessage" and s.chat_id in chats, count=JOBS, timeout=60)
        before = {c: len(api.sent_to(c, "sendDocument")) for c in chats}
    finally:
        serve.send_signal(signal.SIGKILL)
        serve.wait()
    assert sum(before.values()) < JOBS, "every job finished before the crash: nothing was tested"
    time.sleep(1.0)  # the orphaned worker and Redis die with their parent

    restarted = start_serve(env, log)
    try:
        for chat in chats:
            try:
                api.wait_for(
                    lambda s, c=chat: s.method == "sendDocument" and s.chat_id == c, timeout=RESULT_TIMEOUT_S
                )
            except TimeoutError as error:
                raise AssertionError(f"{error}\n{log.read_text(errors='replace')[-4000:]}") from None
        time.sleep(3.0)  # time for a duplicate to show up, if the service were to send one
        for chat in chats:
            assert len(api.sent_to(chat, "sendDocument")) == 1, chat
            assert len(api.sent_to(chat, "sendPhoto")) == 1, chat
            assert sum(s.text.startswith("Queued") for s in api.sent_to(chat, "sendMessage")) == 1, chat
    finally:
        stop(restarted, timeout_s=60)
