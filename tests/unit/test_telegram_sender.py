"""Sending results to Telegram: photo rules, flood control (B2), blocked users (B4), permanent refusals,
resumed deliveries, status edits. The bot talks HTTP to the local fake Bot API through the application's own
rate limiter; delivery runs through the real Deliverer and job store."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from PIL import Image
from sqlalchemy import update
from telegram import Bot
from telegram.ext import AIORateLimiter, ExtBot

from bots.telegram.app import build_application, rate_limiter
from bots.telegram.sender import TelegramResultSender, photo_for_telegram
from bots.upload_fit import fit_upload
from core.blobs import extra_result_key, result_key
from core.config import MB, Settings, TelegramSettings
from core.imaging.intake import human_number
from core.messages import t
from core.ports import ChatRef, JobState, JobView
from core.store import NewJob
from core.store.models import Delivery, utcnow
from core.studio.delivery import Deliverer, Rejected, Undeliverable
from core.studio.service import Studio, bootstrap
from tests.e2e.fake_bot_api import FakeBotAPI
from tests.e2e.offline import photo_bytes, refuse_network
from tests.e2e.telegram_harness import make_settings
from tests.fakes import MemoryQueue

T = TypeVar("T")
ALICE, BOB = 6660001, 6660002
GROUP = -1006660003


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotAPI]:
    refuse_network(monkeypatch)
    with FakeBotAPI() as fake:
        yield fake


def limited_bot(api: FakeBotAPI) -> Bot:
    """The bot as the application builds it: with its rate limiter."""
    urls = {"base_url": f"{api.url}/bot", "base_file_url": f"{api.url}/file/bot"}
    return ExtBot(api.token, rate_limiter=rate_limiter(), **urls)


def with_sender(
    api: FakeBotAPI,
    scenario: Callable[[TelegramResultSender], Awaitable[T]],
    settings: TelegramSettings | None = None,
) -> T:
    async def main() -> T:
        async with limited_bot(api) as bot:
            return await scenario(TelegramResultSender(bot, settings or TelegramSettings()))

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


def test_the_application_paces_its_bot_with_python_telegram_bots_rate_limiter(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    studio = bootstrap(make_settings(tmp_path, api.url), queue=MemoryQueue())
    try:
        limiter = build_application(studio.settings, studio).bot.rate_limiter
    finally:
        studio.store.close()
    assert isinstance(limiter, AIORateLimiter)


def test_a_group_is_paced_to_telegrams_group_limit_and_its_progress_edits_give_way(api: FakeBotAPI) -> None:
    """Telegram takes about 20 messages a minute in a group: the 21st waits for the group's limit while a
    private chat goes on, a progress edit (lossy) is dropped rather than queued behind it, and the final
    edit of the status message waits its turn."""

    async def scenario(sender: TelegramResultSender) -> dict[str, float]:
        status = await sender._bot.send_message(GROUP, "Queued (position 1).")
        group = job_in(GROUP, state=JobState.FAILED)
        await asyncio.gather(*(sender.send_text(group, f"m{i}") for i in range(19)))  # the group's burst
        started, took = time.monotonic(), {}

        async def timed(name: str, work: Awaitable[None]) -> None:
            await work
            took[name] = time.monotonic() - started

        running = job_in(GROUP, state=JobState.RUNNING, status=str(status.message_id))
        finished = job_in(GROUP, state=JobState.DONE, status=str(status.message_id))
        await asyncio.gather(
            timed("progress", sender.show_progress(running, "Working on it: 50%")),
            timed("private", sender.send_text(job_in(ALICE, state=JobState.FAILED), "hello")),
            timed("final", sender.show_progress(finished, "Done.")),
        )
        return took

    took = with_sender(api, scenario)
    assert took["private"] < 0.5 and took["progress"] < 2.0, took
    assert took["final"] >= 2.0, took  # one message every 3 s once the burst is spent
    assert [s.text for s in api.sent_to(GROUP, "editMessageText")] == ["Done."]


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
    settings = TelegramSettings(max_document_upload_bytes=limit)
    with_sender(api, lambda sender: sender.send_result(job_in(ALICE), result, "Here it is."), settings)
    photo, document = api.sent_to(ALICE)
    file = document.files["document"]
    assert document.method == "sendDocument" and file.filename == f"atelier-job{ALICE}.jpg"
    assert file.data == fit_upload(result, limit).data and len(file.data) <= limit  # the shared helper
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


def suit_job_done(studio: Studio, chat_id: int) -> str:
    """A finished /suit job: its result and its print sheet, three messages in all."""
    job_id = f"suit{chat_id}".replace("-", "g")
    chat = ChatRef("telegram", str(chat_id), str(chat_id), "en")
    studio.store.create_job(NewJob(id=job_id, kind="suit", queue="gpu", chat=chat, input_key="inputs/x.png"))
    studio.store.start_attempt(job_id, 3, owner="test")
    studio.blobs.put(result_key(job_id), png(64, 80))
    studio.blobs.put(extra_result_key(job_id, "sheet"), png(120, 80))
    assert studio.store.mark_done(job_id, result_key(job_id), None)
    return job_id


def deliver_with_retries(api: FakeBotAPI, studio: Studio, job_id: str, rounds: int) -> list[int]:
    """``rounds`` delivery sweeps, each after the previous one's backoff (if any) has passed."""

    async def sweeps(sender: TelegramResultSender) -> list[int]:
        deliverer = Deliverer(studio.store, studio.blobs, None, {"telegram": sender})
        delivered = []
        for _ in range(rounds):
            with studio.store.engine.begin() as conn:
                conn.execute(
                    update(Delivery).where(Delivery.job_id == job_id).values(next_attempt_at=utcnow())
                )
            delivered.append(await deliverer.deliver_pending())
        return delivered

    return with_sender(api, sweeps)


def test_a_retry_resumes_a_result_with_the_part_that_failed_and_never_sends_the_photo_twice(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    studio = bootstrap(make_settings(tmp_path, api.url), queue=MemoryQueue())
    job_id = suit_job_done(studio, ALICE)
    api.fail("sendDocument", code=500, description="Internal Server Error", chat_id=ALICE)  # the 2nd part

    assert deliver_with_retries(api, studio, job_id, 3) == [0, 1, 0]
    sent = api.sent_to(ALICE)
    assert [s.method for s in sent] == ["sendPhoto", "sendDocument", "sendDocument"]
    names = [s.files["document"].filename for s in sent[1:]]
    assert names == [f"atelier-{job_id}.png", f"atelier-{job_id}-sheet.png"]
    assert api.count_calls("sendPhoto") == 1 and api.count_calls("sendDocument") == 3
    record = studio.store.delivery(job_id)
    assert record is not None and record.status == "sent" and record.attempts == 2
    studio.store.close()


@pytest.mark.parametrize(
    "description",
    [
        "Bad Request: message is too long",
        "Bad Request: wrong file identifier/HTTP URL specified",
        "Bad Request: can't parse entities: unsupported start tag",
    ],
)
def test_a_request_telegram_refuses_for_good_ends_the_delivery_instead_of_being_retried(
    api: FakeBotAPI, tmp_path: Path, description: str
) -> None:
    studio = bootstrap(make_settings(tmp_path, api.url), queue=MemoryQueue())
    job_id = suit_job_done(studio, ALICE)
    api.fail("sendDocument", code=400, description=description, chat_id=ALICE, times=100)

    assert deliver_with_retries(api, studio, job_id, 3) == [0, 0, 0]
    assert api.count_calls("sendPhoto") == 1 and api.count_calls("sendDocument") == 1
    record = studio.store.delivery(job_id)
    assert record is not None and record.status == "undeliverable" and record.attempts == 1
    assert description.removeprefix("Bad Request: ").lower() in (record.last_error or "").lower()
    studio.store.close()


def test_a_refusal_is_its_own_kind_of_undeliverable(api: FakeBotAPI) -> None:
    api.fail("sendMessage", code=400, description="Bad Request: message is too long")
    with pytest.raises(Rejected, match="too long"):
        with_sender(api, lambda sender: sender.send_text(job_in(ALICE, state=JobState.FAILED), "x" * 5000))


@pytest.mark.parametrize("code", [500, 502])
def test_server_errors_are_still_retried_later(api: FakeBotAPI, tmp_path: Path, code: int) -> None:
    studio = bootstrap(make_settings(tmp_path, api.url), queue=MemoryQueue())
    job_id = suit_job_done(studio, ALICE)
    api.fail("sendPhoto", code=code, description="Internal Server Error", chat_id=ALICE)

    assert deliver_with_retries(api, studio, job_id, 1) == [0]
    record = studio.store.delivery(job_id)
    assert record is not None and record.status == "pending" and record.next_attempt_at is not None
    studio.store.close()


def test_a_photo_telegram_cannot_show_still_arrives_as_the_file(api: FakeBotAPI) -> None:
    """A photo refused for its picture (dimensions Telegram will not process) is no reason to withhold the
    result: the file goes, with the caption and the buttons the photo would have had."""
    api.fail("sendPhoto", code=400, description="Bad Request: PHOTO_INVALID_DIMENSIONS", chat_id=ALICE)
    with_sender(api, lambda sender: sender.send_result(job_in(ALICE), png(64, 64), "Here it is."))
    (document,) = api.sent_to(ALICE)
    assert document.method == "sendDocument" and document.text == "Here it is."
