"""``atelier chat``: talk to the whole studio from a terminal.

Embedded Redis, real worker processes (gpu and cpu; train apart, as under ``atelier serve``), the job
database, the blob store and the durable delivery path all run as in production; the chat is this terminal.
Lines come from the keyboard, a ``--script`` file or a pipe. A scripted conversation ends by waiting until
every job it started has been delivered, so ``atelier chat < conversation.txt`` leaves its results in the
output folder when it exits.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console

from bots.chat import DEFAULT_USER, PLATFORM, ConsoleFrontEnd, valid_user
from bots.console import ButtonBoard, ConsoleResultSender
from bots.processes import spawn_worker, stop_process
from bots.wiring import Wiring, wire
from core.config import Settings
from core.messages import normalize_language
from core.ports import JobState

log = logging.getLogger(__name__)

SETTLE_TIMEOUT_S = 600.0
_POLL_S = 0.5


def run_chat(
    settings: Settings,
    out_dir: Path,
    lang: str | None = None,
    user: str = DEFAULT_USER,
    *,
    script: Path | None = None,
    settle_timeout_s: float = SETTLE_TIMEOUT_S,
) -> int:
    """0 when the conversation ended normally; 1 when a scripted one timed out waiting for its results; 2
    for an unusable user id."""
    if not valid_user(user):
        log.error("--user: 1 to 16 letters, digits, '.', '_' or '-' (it goes into button data), not %r", user)
        return 2
    wiring = wire(settings, embedded_redis=True)
    settings = wiring.settings
    assert settings.redis_url
    wiring.studio.enqueue_waiting()  # jobs a crashed earlier run accepted but the broker lost
    logs = settings.data_dir / "logs"  # worker output would drown the conversation
    workers = [
        spawn_worker(settings, settings.redis_url, ["gpu", "cpu"], 1, log_path=logs / "worker-gpu-cpu.log"),
        spawn_worker(settings, settings.redis_url, ["train"], 1, log_path=logs / "worker-train.log"),
    ]
    source = script.open(encoding="utf-8") if script is not None else sys.stdin
    interactive = script is None and sys.stdin.isatty()
    language = normalize_language(lang or settings.default_language)
    try:
        chat = _Chat(wiring, out_dir, language, user)
        return asyncio.run(chat.run(source, interactive, settle_timeout_s))
    except KeyboardInterrupt:
        return 0
    finally:
        for worker in workers:
            stop_process(worker)
        if script is not None:
            source.close()
        wiring.close()


class _Chat:
    def __init__(self, wiring: Wiring, out_dir: Path, lang: str, user: str) -> None:
        self.console = Console(highlight=False, soft_wrap=True)  # a path wrapped in two is no path
        board = ButtonBoard()
        self.wiring = wiring
        self.studio = wiring.studio
        self.front = ConsoleFrontEnd(wiring.studio, self.console, board, lang=lang, user=user)
        self.sender = ConsoleResultSender(out_dir, self.console, board)

    async def run(self, source: TextIO, interactive: bool, settle_timeout_s: float) -> int:
        deliverer = self.wiring.deliverer(self.sender)
        delivering = asyncio.create_task(deliverer.run())
        started = datetime.now(UTC)
        try:
            async for line in _lines(source, interactive, lambda: self.front.prompt):
                if not interactive:  # a piped conversation prints as a transcript
                    self.console.print(f"{self.front.prompt}{line}", style="cyan", markup=False)
                await self.front.say(line)
                if self.front.closed:
                    break
            if interactive:
                return 0
            return 0 if await self._settle(started, settle_timeout_s) else 1
        finally:
            delivering.cancel()
            await asyncio.gather(delivering, return_exceptions=True)

    async def _settle(self, started: datetime, timeout_s: float) -> bool:
        """Wait until every job of this conversation is delivered (or cancelled); ``False`` on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            waiting = await asyncio.to_thread(self._undelivered, started)
            if not waiting:
                return True
            if time.monotonic() > deadline:
                log.warning("gave up waiting for %d job(s): %s", len(waiting), ", ".join(waiting))
                return False
            await asyncio.sleep(_POLL_S)

    def _undelivered(self, started: datetime) -> list[str]:
        """Jobs of this conversation's users, created since it started, not yet delivered."""
        store, waiting = self.studio.store, []
        for user in sorted(self.front.users):
            for job in store.jobs_for_user(PLATFORM, user, active_only=False, limit=1000):
                if job.created_at is None or job.created_at < started or job.state is JobState.CANCELLED:
                    continue  # an earlier run's job, or one the cancel command answered
                delivery = store.delivery(job.id)
                if delivery is None or delivery.status not in ("sent", "undeliverable"):
                    waiting.append(job.id)
        return waiting


async def _lines(source: TextIO, interactive: bool, prompt: Callable[[], str]) -> AsyncIterator[str]:
    """Lines as they come, read on a daemon thread: ``input()`` blocks, and a thread blocked in it must not
    keep the process alive after Ctrl-C. One line is read at a time, so the prompt shows the current user."""
    loop = asyncio.get_running_loop()
    while True:
        line: asyncio.Future[str | None] = loop.create_future()

        def read(text: str, future: asyncio.Future[str | None] = line) -> None:
            try:
                got: str | None = input(text) if interactive else source.readline() or None
            except EOFError:
                got = None
            try:
                loop.call_soon_threadsafe(_resolve, future, got)
            except RuntimeError:  # the conversation ended (Ctrl-C) while this line was typed
                pass

        threading.Thread(target=read, args=(prompt() if interactive else "",), daemon=True).start()
        got = await line
        if got is None:
            return
        yield got.rstrip("\n")


def _resolve(future: asyncio.Future[str | None], value: str | None) -> None:
    if not future.done():
        future.set_result(value)
