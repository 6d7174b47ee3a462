"""A flood through the real Telegram client: one user sends N photos captioned /unmask as fast as polling
hands them over, while a second user sends one. Everything but Telegram's cloud is real: python-telegram-bot
against the local fake Bot API, the studio with its quotas, the photo intake pool, SQLite; the queue is in
memory (no worker runs, so nothing leaves the queue and the quotas see every job).

    python bench/bench_flood.py [--flood 300] [--runs 3]

Prints, per run: updates handled per second, how many were accepted and refused, and the second user's time
from their update to their first reply under the flood, beside the same time with no flood (same process,
same run) as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402
from telegram.ext import Application  # noqa: E402

from core.messages import t  # noqa: E402
from core.studio.service import bootstrap  # noqa: E402
from tests.e2e.fake_bot_api import FakeBotAPI  # noqa: E402
from tests.e2e.offline import photo_bytes  # noqa: E402
from tests.e2e.telegram_harness import initialized, make_settings  # noqa: E402
from tests.fakes import MemoryQueue  # noqa: E402

FLOODER, SECOND = 6660001, 7770001


async def polled(application: Application, update: dict[str, Any]) -> None:
    """One update handed over as polling does: through the bot's update processor (its per-chat order and
    its bound on updates at once)."""
    parsed = Update.de_json(update, application.bot)
    await application.update_processor.process_update(parsed, application.process_update(parsed))


async def first_reply_s(api: FakeBotAPI, application: Application, chat: int, data: bytes) -> float:
    before = len(api.sent_to(chat, "sendMessage"))
    started = time.perf_counter()
    await polled(application, api.update_of(api.photo_message(chat, data, caption="/unmask")))
    while len(api.sent_to(chat, "sendMessage")) == before:
        await asyncio.sleep(0.001)
    return time.perf_counter() - started


async def one_run(flood: int, data: bytes) -> tuple[float, int, int, float, float]:
    with FakeBotAPI() as api, tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), api.url)
        studio = bootstrap(settings, queue=MemoryQueue())
        try:
            async with initialized(settings, studio) as application:
                await first_reply_s(api, application, SECOND + 2, data)  # starts the photo intake pool
                quiet = await first_reply_s(api, application, SECOND + 1, data)
                updates = [
                    api.update_of(api.photo_message(FLOODER, data, caption="/unmask")) for _ in range(flood)
                ]
                started = time.perf_counter()
                flooding = asyncio.gather(*(polled(application, update) for update in updates))
                await asyncio.sleep(0.05)  # the flood is under way
                loaded = await first_reply_s(api, application, SECOND, data)
                await flooding
                elapsed = time.perf_counter() - started
        finally:
            studio.store.close()
        texts = [sent.text for sent in api.sent_to(FLOODER, "sendMessage")]
        most = settings.studio.max_active_per_user
    accepted = sum(text.startswith(t("job.queued", position=0).split("(")[0]) for text in texts)
    refused = sum(text == t("quota.active", count=most) for text in texts)
    return flood / elapsed, accepted, refused, loaded, quiet


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = photo_bytes()
    ratios = []
    for run in range(1, args.runs + 1):
        rate, accepted, refused, loaded, quiet = asyncio.run(one_run(args.flood, data))
        ratios.append(loaded / quiet)
        print(
            f"run {run}: {rate:.0f} updates/s; accepted {accepted}, refused {refused}; second user's first "
            f"reply {loaded * 1e3:.0f} ms under the flood vs {quiet * 1e3:.0f} ms without "
            f"({loaded / quiet:.1f}x)"
        )
    print(f"median slowdown of the second user's first reply: {statistics.median(ratios):.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
