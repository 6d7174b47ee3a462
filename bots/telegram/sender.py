"""Sending finished jobs back to Telegram, outside any update handler.

The Deliverer renders the texts; this module only knows Telegram: its photo limits, its flood control (429
with ``retry_after``, about one message per second per chat) and what "the user blocked the bot" looks like.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from PIL import Image
from telegram import Bot, InputFile, ReplyParameters
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bots.telegram.keyboards import keyboard
from bots.telegram.ratelimit import ChatRateLimiter
from core.config import MB, TelegramSettings
from core.imaging.intake import human_number, jpeg_within
from core.messages import t
from core.ports import JobView
from core.studio.commands import Buttons
from core.studio.delivery import Attachment, ResultSender, Undeliverable

log = logging.getLogger(__name__)

T = TypeVar("T")

# Telegram's rules for sendPhoto (besides the byte limit).
MAX_PHOTO_SIDES_SUM = 10_000
MAX_PHOTO_RATIO = 20.0
# A 429 asks for patience, not for a loop: a few retries, each waiting as long as Telegram says.
MAX_SEND_ATTEMPTS = 4
MAX_RETRY_WAIT_S = 120.0
MIN_RETRY_WAIT_S = 0.5
_GONE = ("chat not found", "user is deactivated", "bot was kicked", "not enough rights to send")


class TelegramResultSender(ResultSender):
    """The ``ResultSender`` for Telegram: photo (Telegram recompresses it) plus the full-resolution PNG."""

    platform = "telegram"

    def __init__(self, bot: Bot, settings: TelegramSettings, limiter: ChatRateLimiter | None = None) -> None:
        self._bot = bot
        self._settings = settings
        self._limiter = limiter or ChatRateLimiter()

    async def show_progress(self, job: JobView, text: str, buttons: Buttons = ()) -> None:
        if job.status_message_id is None:
            return
        chat_id = job.chat.chat_id
        if job.state.terminal:  # the last word on the status message ("Done."): worth waiting for
            async with self._limiter.turn(chat_id):
                await self._edit(job, text, buttons)
        elif self._limiter.try_acquire(chat_id):  # progress is lossy: never delay a result behind it
            await self._edit(job, text, buttons)

    async def _edit(self, job: JobView, text: str, buttons: Buttons) -> None:
        try:
            await self._bot.edit_message_text(
                text,
                chat_id=job.chat.chat_id,
                message_id=int(job.status_message_id or 0),
                reply_markup=keyboard(buttons),
            )
        except RetryAfter:
            pass
        except BadRequest as error:
            if _is_gone(error):
                raise Undeliverable(error.message) from error
            # "message is not modified", "message to edit not found" (the user deleted it): nothing to do.
            log.debug("status edit skipped for job %s: %s", job.id, error.message)
        except Forbidden as error:
            raise Undeliverable(error.message) from error

    async def send_result(
        self,
        job: JobView,
        result_png: bytes,
        caption: str,
        attachments: Sequence[Attachment] = (),
        buttons: Buttons = (),
    ) -> None:
        chat_id, reply = job.chat.chat_id, _reply_to(job)
        photo = await asyncio.to_thread(photo_for_telegram, result_png, self._settings.max_photo_upload_bytes)
        if photo is not None:
            await self._send(
                chat_id,
                lambda: self._bot.send_photo(
                    chat_id,
                    InputFile(photo, filename=f"atelier-{job.id}.jpg"),
                    caption=caption,
                    reply_parameters=reply,
                    reply_markup=keyboard(buttons),
                ),
            )
        await self._document(
            job,
            result_png,
            f"atelier-{job.id}",
            caption=None if photo is not None else caption,
            buttons=() if photo is not None else buttons,
        )
        for attachment in attachments:
            await self._document(
                job, attachment.data, f"atelier-{job.id}-{attachment.name}", attachment.caption
            )

    async def _document(
        self, job: JobView, png: bytes, stem: str, caption: str | None, buttons: Buttons = ()
    ) -> None:
        """A full-resolution PNG as a file. Over the upload limit, or refused by Telegram as too large, it
        goes as the largest JPEG within the limit, with a sentence that says so (once: the photo already
        sent is not sent again)."""
        limit = self._settings.max_document_upload_bytes
        if len(png) <= limit:
            try:
                await self._send_document(job, png, f"{stem}.png", caption, buttons)
                return
            except NetworkError as error:  # Telegram's 413 arrives as one (BadRequest is one too)
                if not _too_large(error):
                    raise
                log.warning("job %s: Telegram refused a %d-byte file as too large", job.id, len(png))
                limit = min(limit, self._settings.max_photo_upload_bytes)
        reduced = await asyncio.to_thread(_jpeg_of, png, limit)
        note = t("result.document_reduced", job.chat.lang, limit_mb=human_number(limit / MB))
        text = note if caption is None else f"{caption}\n{note}"
        await self._send_document(job, reduced, f"{stem}.jpg", text, buttons)

    async def _send_document(
        self, job: JobView, data: bytes, filename: str, caption: str | None, buttons: Buttons
    ) -> None:
        chat_id = job.chat.chat_id
        await self._send(
            chat_id,
            lambda: self._bot.send_document(
                chat_id,
                InputFile(data, filename=filename),
                caption=caption,
                reply_parameters=_reply_to(job),
                reply_markup=keyboard(buttons) if buttons else None,
                disable_content_type_detection=True,
            ),
        )

    async def send_text(self, job: JobView, text: str) -> None:
        chat_id = job.chat.chat_id
        await self._send(
            chat_id, lambda: self._bot.send_message(chat_id, text, reply_parameters=_reply_to(job))
        )

    async def _send(self, chat_id: str, call: Callable[[], Awaitable[T]]) -> T:
        """One send with the chat's rate limit, waiting out 429s a bounded number of times. Holding the chat's
        turn while waiting keeps other sends to that chat behind it; other chats go on."""
        async with self._limiter.turn(chat_id):
            for attempt in range(1, MAX_SEND_ATTEMPTS + 1):
                try:
                    return await call()
                except RetryAfter as error:
                    wait = min(max(_seconds(error), MIN_RETRY_WAIT_S), MAX_RETRY_WAIT_S)
                    if attempt == MAX_SEND_ATTEMPTS:
                        raise
                    log.warning("flood control for chat %s: retrying in %.1f s", chat_id, wait)
                    await asyncio.sleep(wait)
                except TimedOut:
                    # The request may or may not have reached Telegram; a retry risks a duplicate
                    # message, which beats losing the result.
                    if attempt == MAX_SEND_ATTEMPTS:
                        raise
                    await asyncio.sleep(attempt)
                except Forbidden as error:
                    raise Undeliverable(error.message) from error
                except BadRequest as error:
                    if _is_gone(error):
                        raise Undeliverable(error.message) from error
                    raise
            raise AssertionError("unreachable")


def photo_for_telegram(png: bytes, max_bytes: int) -> bytes | None:
    """The result as Telegram accepts it for sendPhoto: the PNG itself when it fits the rules, else a
    downscaled JPEG. ``None`` when no photo can show it without cropping (aspect ratio over 20); the document
    still goes."""
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        if max(width, height) > MAX_PHOTO_RATIO * min(width, height):
            return None
        if len(png) <= max_bytes and width + height <= MAX_PHOTO_SIDES_SUM:
            return png
        return jpeg_within(image, max_bytes, min(1.0, MAX_PHOTO_SIDES_SUM / (width + height)))


def _jpeg_of(png: bytes, max_bytes: int) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        return jpeg_within(image, max_bytes)


def _too_large(error: NetworkError) -> bool:
    """Telegram's 413, "Request Entity Too Large" (or a 400 about the file's size)."""
    return "too large" in error.message.lower()


def _reply_to(job: JobView) -> ReplyParameters | None:
    if job.reply_to_message_id is None:
        return None
    # The user may have deleted their photo meanwhile: answer anyway.
    return ReplyParameters(int(job.reply_to_message_id), allow_sending_without_reply=True)


def _is_gone(error: BadRequest) -> bool:
    return any(reason in error.message.lower() for reason in _GONE)


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after becomes a timedelta; accept both.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)
