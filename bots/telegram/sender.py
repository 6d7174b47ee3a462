"""Sending finished jobs back to Telegram, outside any update handler.

The Deliverer renders the texts; this module only knows Telegram: its photo limits, its flood control and what
"the user blocked the bot" or "refused for good" look like. Pacing is the bot's own: the application builds
its bot with python-telegram-bot's ``AIORateLimiter`` (``bots.telegram.app.rate_limiter``: about 30 messages
a second in all, 20 a minute in a group). A 429 that still comes is waited out here, a bounded number of
times, for that send alone: one flooded chat never holds up the others, as the limiter's own retries (which
pause every request) would.

A result is up to three messages, each a part of the delivery (``SentParts``): the photo, the full-resolution
file, the /suit sheet; a retry sends only the parts that did not arrive. Telegram's answers map to the
Deliverer's outcomes: 403 or a chat that is gone is ``Undeliverable``; any other 400 (a message too long, a
file identifier it does not know, a group that became a supergroup) is ``Rejected``, never retried; a 429
that does not end, a 5xx and network errors are raised as they are and retried later.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

from PIL import Image
from telegram import Bot, InputFile, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bots.telegram.keyboards import keyboard
from bots.upload_fit import fit_upload
from core.config import MB, TelegramSettings
from core.imaging.intake import human_number
from core.messages import t
from core.ports import JobView
from core.studio.commands import Buttons
from core.studio.delivery import Attachment, Rejected, ResultSender, Undeliverable
from core.studio.sent_parts import SentParts

log = logging.getLogger(__name__)

T = TypeVar("T")

# Telegram's rules for sendPhoto (besides the byte limit).
MAX_PHOTO_SIDES_SUM = 10_000
MAX_PHOTO_RATIO = 20.0
# A 429 asks for patience, not for a loop: a few retries, each waiting as long as Telegram says.
MAX_SEND_ATTEMPTS = 4
MAX_RETRY_WAIT_S = 120.0
MIN_RETRY_WAIT_S = 0.5
# A progress edit the rate limiter holds back longer than this (a group that used up its minute) is dropped:
# the next one says more, and the result must not queue behind it.
PROGRESS_PATIENCE_S = 1.0
_GONE = ("chat not found", "user is deactivated", "bot was kicked", "not enough rights to send")


class TelegramResultSender(ResultSender):
    """The ``ResultSender`` for Telegram: photo (Telegram recompresses it) plus the full-resolution PNG."""

    platform = "telegram"

    def __init__(self, bot: Bot, settings: TelegramSettings) -> None:
        self._bot = bot
        self._settings = settings

    async def show_progress(self, job: JobView, text: str, buttons: Buttons = ()) -> None:
        if job.status_message_id is None:
            return
        if job.state.terminal:  # the last word on the status message ("Done."): worth waiting for
            await self._edit(job, text, buttons)
            return
        try:
            await asyncio.wait_for(self._edit(job, text, buttons), PROGRESS_PATIENCE_S)
        except TimeoutError:
            log.debug("progress edit for job %s dropped: the chat's rate limit is spent", job.id)

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
        parts: SentParts | None = None,
    ) -> None:
        parts = parts if parts is not None else SentParts()
        photo = await asyncio.to_thread(photo_for_telegram, result_png, self._settings.max_photo_upload_bytes)
        shown = photo is not None and await self._photo(job, photo, caption, buttons, parts)
        await parts.send(
            "document",
            lambda: self._document(
                job,
                result_png,
                f"atelier-{job.id}",
                caption=None if shown else caption,
                buttons=() if shown else buttons,
            ),
        )
        for attachment in attachments:
            stem = f"atelier-{job.id}-{attachment.name}"
            document = partial(self._document, job, attachment.data, stem, attachment.caption)
            await parts.send(f"attachment:{attachment.name}", document)

    async def _photo(
        self, job: JobView, photo: bytes, caption: str, buttons: Buttons, parts: SentParts
    ) -> bool:
        """The photo, unless an earlier attempt sent it. ``False`` when Telegram refuses it (a picture it
        will not process as a photo): the file then carries the caption and the buttons, and the result still
        arrives."""
        chat_id = job.chat.chat_id
        try:
            await parts.send(
                "photo",
                lambda: self._send(
                    chat_id,
                    lambda: self._bot.send_photo(
                        chat_id,
                        InputFile(photo, filename=f"atelier-{job.id}.jpg"),
                        caption=caption,
                        reply_parameters=_reply_to(job),
                        reply_markup=keyboard(buttons),
                    ),
                ),
            )
        except Rejected as error:
            log.warning("job %s: Telegram refused the photo (%s); sending the file alone", job.id, error)
            return False
        return True

    async def _document(
        self, job: JobView, png: bytes, stem: str, caption: str | None, buttons: Buttons = ()
    ) -> None:
        """A full-resolution PNG as a file. Over the upload limit, or refused by Telegram as too large, it
        goes as the best JPEG within the limit (``bots.upload_fit``), with a sentence that says so (once: the
        photo already sent is not sent again)."""
        limit = fit_limit = self._settings.max_document_upload_bytes
        if len(png) <= limit:
            try:
                await self._send_document(job, png, f"{stem}.png", caption, buttons)
                return
            except (NetworkError, Rejected) as error:  # Telegram's 413 arrives as a NetworkError
                if not _too_large(error):
                    raise
                log.warning("job %s: Telegram refused a %d-byte file as too large", job.id, len(png))
                limit = min(limit, self._settings.max_photo_upload_bytes)
                fit_limit = min(limit, len(png) - 1)  # whatever its limit is, the PNG was over it
        fitted = await asyncio.to_thread(fit_upload, png, fit_limit)
        note = t("result.document_reduced", job.chat.lang, limit_mb=human_number(limit / MB))
        text = note if caption is None else f"{caption}\n{note}"
        await self._send_document(job, fitted.data, f"{stem}.{fitted.suffix}", text, buttons)

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

    async def send_text(self, job: JobView, text: str, parts: SentParts | None = None) -> None:
        chat_id = job.chat.chat_id
        await (parts if parts is not None else SentParts()).send(
            "text",
            lambda: self._send(
                chat_id, lambda: self._bot.send_message(chat_id, text, reply_parameters=_reply_to(job))
            ),
        )

    async def _send(self, chat_id: str, call: Callable[[], Awaitable[T]]) -> T:
        """One send, waiting out 429s a bounded number of times (this send alone: other sends go on), and
        Telegram's refusals mapped to the Deliverer's outcomes."""
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
                raise Rejected(error.message) from error
            except ChatMigrated as error:  # a 400 too; following the group to its new id is not done yet
                raise Rejected(f"the group moved to chat {error.new_chat_id}") from error
        raise AssertionError("unreachable")


def photo_for_telegram(png: bytes, max_bytes: int) -> bytes | None:
    """The result as Telegram accepts it for sendPhoto: the PNG itself when it fits the rules, else the best
    JPEG within them (``bots.upload_fit``). ``None`` when no photo can show it without cropping (aspect ratio
    over 20); the document still goes."""
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
    if max(width, height) > MAX_PHOTO_RATIO * min(width, height):
        return None
    return fit_upload(png, max_bytes, max_sides_sum=MAX_PHOTO_SIDES_SUM).data


def _too_large(error: NetworkError | Rejected) -> bool:
    """Telegram's 413, "Request Entity Too Large", or its 400 "file is too big"."""
    message = str(error).lower()
    return "too large" in message or "too big" in message


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
