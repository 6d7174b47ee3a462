"""Sending results to Telegram: photo rules, flood control (B2), blocked users (B4), status edits. The bot
talks HTTP to the local fake Bot API; delivery runs through the real Deliverer and job store."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from PIL import Image
from telegram import Bot

from bots.telegram.ratelimit import ChatRateLimiter
from bots.telegram.sender import TelegramResultSender, photo_for_telegram
from core.blobs import result_key
from core.config import MB, Settings, TelegramSettings
from core.imaging.intake import human_number
from core.messages import t
from core.ports import ChatRef, JobState, JobView
from core.studio.delivery import Deliverer, Undeliverable
from core.studio.service import bootstrap
from tests.e2e.fake_bot_api import FakeBotAPI
from tests.e2e.offline import photo_bytes, refuse_network
from tests.e2e.telegram_harness import make_settings
from tests.fakes import MemoryQueue

T = TypeVar("T")
ALICE, BOB = 6660001, 6660002


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotAPI]:
    refuse_network(monkeypatch)
    with FakeBotAPI() as fake:
        yield fake


def with_sender(
    api: FakeBotAPI,
    scenario: Callable[[TelegramResultSender], Awaitable[T]],
    limiter: ChatRateLimiter | None = None,
) -> T:
    async def main() -> T:
        async with Bot(api.token, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot") as bot:
            return await scenario(TelegramResultSender(bot, TelegramSettings(), limiter))

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def job_in(chat_id: int, *, state: JobState = JobState.DONE, status: str | None = None) -> JobView:
    chat = ChatRef("telegram", str(chat_id), str(chat_id), "en")
    return JobView(
        id=f"job{chat_id}",
        kind="unmask",
        queue="gpu",
        state=state,
        chat=chat,
        input_key="inputs/x.png",
        status_message_id=status,
        reply_to_message_id="77",
    )


def png(width: int, height: int, noise: bool = False) -> bytes:
    return photo_bytes(width, height, fmt="PNG", noise=noise)


def test_a_result_is_a_photo_and_the_full_resolution_png_replying_to_the_original(api: FakeBotAPI) -> None:
    result = png(640, 480)
    with_sender(api, lambda sender: sender.send_result(job_in(ALICE), result, "Here it is."))

    photo, document = api.sent_to(ALICE)
    assert (photo.method, document.method) == ("sendPhoto", "sendDocument")
    assert photo.files["photo"].data == result and photo.text == "Here it is."
    assert document.files["document"].data == result
    assert document.files["document"].filename == f"atelier-job{ALICE}.png"
    assert photo.reply_to == document.reply_to == 77


def test_photos_follow_telegrams_rules() -> None:
    small = png(400, 300)
    assert photo_for_telegram(small, 10 * MB) == small
    # Over the byte limit: a JPEG that fits.
    heavy = png(600, 600, noise=True)
    smaller = photo_for_telegram(heavy, len(heavy) // 4)
    assert smaller is not None and smaller[:2] == b"\xff\xd8" and len(smaller) <= len(heavy) // 4
    # Width + height over 10000: scaled to fit, proportions kept.
    wide = photo_for_telegram(png(9000, 2250), 10 * MB)
    assert wide is not None
    with Image.open(io.BytesIO(wide)) as image:
        assert image.width + image.height <= 10_000 and abs(image.width / image.height - 4) < 0.01
    # Longer than 20:1: no photo can show it; the document alone goes out.
    assert photo_for_telegram(png(2100, 100), 10 * MB) is None


def test_a_result_too_thin_for_a_photo_still_arrives_as_a_document(api: FakeBotAPI) -> None:
    with_sender(api, lambda sender: sender.send_result(job_in(ALICE), png(2100, 100), "Here it is."))
    (document,) = api.sent_to(ALICE)
    assert document.method == "sendDocument" and document.text == "Here it is."


def test_b2_a_429_is_waited_out_without_holding_up_other_chats(api: FakeBotAPI) -> None:
    api.fail("sendPhoto", code=429, retry_after=1, chat_id=ALICE)

    async def scenario(sender: TelegramResultSender) -> tuple[float, float]:
        started = time.monotonic()

        async def to_alice() -> float:
            await sender.send_result(job_in(ALICE), png(64, 64), "Here it is.")
            return time.monotonic() - started

        async def to_bob() -> float:
            await asyncio.sleep(0.1)  # Alice is already waiting out her flood control
            await sender.send_text(job_in(BOB, state=JobState.FAILED), "Sorry.")
            return time.monotonic() - started

        alice, bob = await asyncio.gather(to_alice(), to_bob())
        return alice, bob

    alice_s, bob_s = with_sender(api, scenario)
    assert 1.0 <= alice_s < 3.0, alice_s
    assert bob_s < 0.8, bob_s
    assert api.count_calls("sendPhoto") == 2  # one refused, one retry: no tight loop
    assert [s.method for s in api.sent_to(ALICE)] == ["sendPhoto", "sendDocument"]


def test_b2_flood_control_that_does_not_end_gives_up_after_a_few_attempts(
    api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telegram.error import RetryAfter

    import bots.telegram.sender as sender_module

    monkeypatch.setattr(sender_module, "MAX_RETRY_WAIT_S", 0.05)
    api.fail("sendMessage", code=429, retry_after=30, times=100)
    with pytest.raises(RetryAfter):
        with_sender(api, lambda sender: sender.send_text(job_in(ALICE, state=JobState.FAILED), "x"))
    assert api.count_calls("sendMessage") == sender_module.MAX_SEND_ATTEMPTS


def test_the_per_chat_limiter_spaces_a_burst_but_not_other_chats(api: FakeBotAPI) -> None:
    async def scenario(sender: TelegramResultSender) -> tuple[float, float]:
        started = time.monotonic()
        failed = job_in(ALICE, state=JobState.FAILED)
        await asyncio.gather(*(sender.send_text(failed, f"m{i}") for i in range(4)))
        alice = time.monotonic() - started
        await sender.send_text(job_in(BOB, state=JobState.FAILED), "hello")
        return alice, time.monotonic() - started - alice

    alice_s, bob_s = with_sender(api, scenario, ChatRateLimiter(per_second=5, burst=2))
    assert alice_s >= 0.35  # 2 at once, then one every 0.2 s
    assert bob_s < 0.15
    assert [s.text for s in api.sent_to(ALICE)] == ["m0", "m1", "m2", "m3"]


def test_b4_a_blocked_user_raises_undeliverable(api: FakeBotAPI) -> None:
    api.block_chat(ALICE)
    with pytest.raises(Undeliverable, match="blocked"):
        with_sender(api, lambda sender: sender.send_result(job_in(ALICE), png(64, 64), "x"))
    api.fail("sendMessage", code=400, description="Bad Request: chat not found", chat_id=BOB)
    with pytest.raises(Undeliverable, match="(?i)chat not found"):
        with_sender(api, lambda sender: sender.send_text(job_in(BOB, state=JobState.FAILED), "x"))


def test_b4_the_deliverer_marks_a_blocked_users_job_undeliverable_and_stops(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    settings: Settings = make_settings(tmp_path, api.url)
    studio = bootstrap(settings, queue=MemoryQueue())
    chat = ChatRef("telegram", str(ALICE), str(ALICE), "en")
    job_id = studio.submit_unmask(chat, photo_bytes()).job_id
    studio.store.start_attempt(job_id, 3, owner="test")
    studio.blobs.put(result_key(job_id), png(64, 64))
    assert studio.store.mark_done(job_id, result_key(job_id), None)
    api.block_chat(ALICE)

    async def deliver_twice(sender: TelegramResultSender) -> list[int]:
        deliverer = Deliverer(studio.store, studio.blobs, None, {"telegram": sender})
        return [await deliverer.deliver_pending(), await deliverer.deliver_pending()]

    assert with_sender(api, deliver_twice) == [0, 0]
    record = studio.store.delivery(job_id)
    assert record is not None and record.status == "undeliverable"
    assert api.count_calls("sendPhoto") == 1 and api.count_calls("sendDocument") == 0
    studio.store.close()


def test_status_edits_ignore_not_modified_and_skip_jobs_without_a_status_message(api: FakeBotAPI) -> None:
    async def scenario(sender: TelegramResultSender) -> None:
        status = await sender._bot.send_message(ALICE, "Queued (position 1).")
        running = job_in(ALICE, state=JobState.RUNNING, status=str(status.message_id))
        await sender.show_progress(running, "Working on it: finding faces 10%")
        await asyncio.sleep(1.1)  # a token for the next (lossy) progress edit
        await sender.show_progress(running, "Working on it: finding faces 10%")  # "not modified": ignored
        await sender.show_progress(job_in(ALICE, state=JobState.DONE, status=str(status.message_id)), "Done.")
        await sender.show_progress(job_in(ALICE, state=JobState.DONE), "Done.")  # nothing to edit

    with_sender(api, scenario)
    edits = [s.text for s in api.sent_to(ALICE, "editMessageText")]
    assert edits == ["Working on it: finding faces 10%", "Done."]
    assert api.count_calls("editMessageText") == 3


def test_a_png_over_the_document_limit_goes_as_a_jpeg_that_fits_and_says_so(api: FakeBotAPI) -> None:
    result = png(900, 900, noise=True)
    limit = len(result) // 3

    async def main() -> None:
        async with Bot(api.token, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot") as bot:
            sender = TelegramResultSender(bot, TelegramSettings(max_document_upload_bytes=limit))
            await sender.send_result(job_in(ALICE), result, "Here it is.")

    asyncio.run(asyncio.wait_for(main(), timeout=30))
    photo, document = api.sent_to(ALICE)
    file = document.files["document"]
    assert document.method == "sendDocument" and file.filename == f"atelier-job{ALICE}.jpg"
    assert file.data[:2] == b"\xff\xd8" and len(file.data) <= limit
    assert document.text == t("result.document_reduced", "en", limit_mb=human_number(limit / MB))


def test_a_document_telegram_refuses_as_too_large_is_sent_once_more_as_a_jpeg(api: FakeBotAPI) -> None:
    """Telegram's 413 (its limit below the configured one): the photo is not sent again and again; the file
    comes as a JPEG, with a sentence saying why."""
    api.fail("sendDocument", code=413, chat_id=ALICE, description="Request Entity Too Large")
    result = png(900, 900, noise=True)
    with_sender(api, lambda sender: sender.send_result(job_in(ALICE), result, "Here it is."))
    methods = [sent.method for sent in api.sent_to(ALICE)]
    assert methods == ["sendPhoto", "sendDocument"]
    document = api.sent_to(ALICE)[-1]
    assert document.files["document"].data[:2] == b"\xff\xd8"
    assert document.text == t("result.document_reduced", "en", limit_mb=10)
