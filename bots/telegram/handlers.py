"""Update callbacks: parse the update, call the studio, reply. Routing lives in ``app.build_application``.

Polling confirms updates to Telegram before these run, so the photo is persisted and queued here and nothing
slow happens: the byte-capped download is I/O, intake and the database write run in a thread (< 100 ms),
and the pipeline runs on a worker. Errors go to ``on_error``: a ``UserError`` becomes a reply in the user's
language, anything else a logged traceback and an apology with an error id.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from pathlib import PurePosixPath

from telegram import Document, Message, PhotoSize, Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bots.telegram.files import FileDownloader
from bots.telegram.identity_handlers import IdentityHandlers
from bots.telegram.suit_menu import SuitButton, suit_keyboard
from core.config import Settings
from core.errors import UserError
from core.idphoto.catalog import SuitOptions, parse_suit_options
from core.intake import check_declared_size
from core.messages import normalize_language, t
from core.ports import ChatRef
from core.service import Studio

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
UNMASK = "/unmask"
SUIT = "/suit"
# Documents that are obviously not photos are refused before download; the rest is sniffed by intake.
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp"}
UNKNOWN_MIME_TYPES = {"", "application/octet-stream"}


class TelegramHandlers(IdentityHandlers):
    def __init__(self, settings: Settings, studio: Studio, downloader: FileDownloader) -> None:
        self.settings = settings
        self.studio = studio
        self.downloader = downloader
        # Telegram's download limit and ours, whichever is lower.
        self.max_bytes = min(settings.telegram.max_download_bytes, settings.intake.max_bytes)

    async def start(self, update: Update, context: Context) -> None:
        await _message(update).reply_text(t("start", self._lang(update)))

    async def help(self, update: Update, context: Context) -> None:
        await _message(update).reply_text(t("help", self._lang(update)))

    async def unmask_command(self, update: Update, context: Context) -> None:
        """``/unmask`` as text: a reply to a photo processes that photo; otherwise wait for the next one."""
        target = _message(update).reply_to_message
        if target is not None and image_of(target) is not None:
            await self._submit(update, context, target)
            return
        await asyncio.to_thread(self.studio.expect_photo, self._chat(update), UNMASK)
        minutes = max(1, self.settings.telegram.pending_command_ttl_s // 60)
        await _message(update).reply_text(t("unmask.send_photo", self._lang(update), minutes=minutes))

    async def unmask_media(self, update: Update, context: Context) -> None:
        """A photo or file with the caption ``/unmask``."""
        await self._submit(update, context, _message(update))

    async def suit_command(self, update: Update, context: Context) -> None:
        """``/suit [options]`` as text: a reply to a photo processes it; otherwise show the option buttons
        and wait for the photo."""
        options = parse_suit_options(context.args or [])
        target = _message(update).reply_to_message
        if target is not None and image_of(target) is not None:
            await self._submit(update, context, target, SUIT, options)
            return
        chat, lang = self._chat(update), self._lang(update)
        await asyncio.to_thread(self.studio.expect_photo, chat, SUIT, options.as_params())
        await _message(update).reply_text(
            self._suit_prompt(options, lang), reply_markup=suit_keyboard(options, chat.user_id, lang)
        )

    async def suit_media(self, update: Update, context: Context) -> None:
        """A photo or file with the caption ``/suit [options]``. Sent as a reply to another photo, that photo
        is the portrait and this one the suit to follow."""
        message = _message(update)
        options = parse_suit_options((message.caption or "").split()[1:])
        target = message.reply_to_message
        if target is not None and image_of(target) is not None:
            await self._submit(update, context, target, SUIT, options, exemplar=message)
        else:
            await self._submit(update, context, message, SUIT, options)

    async def suit_button(self, update: Update, context: Context) -> None:
        """One of the /suit option buttons: change the pending choice and redraw the buttons."""
        query = update.callback_query
        assert query is not None and query.data is not None
        button, chat, lang = SuitButton.parse(query.data), self._chat(update), self._lang(update)
        if button is None or button.owner_id != chat.user_id:
            await query.answer(t("suit.not_yours", lang), show_alert=False)
            return
        params = await asyncio.to_thread(self.studio.change_expected, chat, SUIT, button.change())
        if params is None:
            await query.answer(t("suit.expired", lang))
            return
        options = SuitOptions.from_params(params)
        await query.answer()
        with contextlib.suppress(BadRequest):  # "message is not modified": the same button twice
            await query.edit_message_text(
                self._suit_prompt(options, lang), reply_markup=suit_keyboard(options, chat.user_id, lang)
            )

    async def media(self, update: Update, context: Context) -> None:
        """A photo or file without a command: a selfie while a /train upload is open, the photo a pending
        ``/unmask`` or ``/suit`` is waiting for, or (in a private chat) a question."""
        if await asyncio.to_thread(self.studio.collecting_selfies, self._chat(update)):
            await self.selfie(update, context)
            return
        pending = await asyncio.to_thread(self.studio.take_expected, self._chat(update))
        if pending is not None and pending.command == UNMASK:
            await self._submit(update, context, _message(update))
        elif pending is not None and pending.command == SUIT:
            options = SuitOptions.from_params(pending.params)
            await self._submit(update, context, _message(update), SUIT, options)
        elif update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:  # groups share photos
            await _message(update).reply_text(t("unmask.which_command", self._lang(update)))

    async def on_error(self, update: object, context: Context) -> None:
        message = update.effective_message if isinstance(update, Update) else None
        lang = self._lang(update) if isinstance(update, Update) else self.settings.default_language
        if isinstance(context.error, UserError):
            if message is not None:
                await message.reply_text(context.error.render(lang))
            return
        error_id = uuid.uuid4().hex[:8]
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed (error id %s)", update_id, error_id, exc_info=context.error)
        if message is not None:
            await message.reply_text(t("error.internal", lang, error_id=error_id))

    async def _submit(
        self,
        update: Update,
        context: Context,
        source: Message,
        command: str = UNMASK,
        options: SuitOptions | None = None,
        *,
        exemplar: Message | None = None,
    ) -> None:
        """Check, download, queue the photo in ``source`` (and the example suit in ``exemplar``), and
        answer with the queue position."""
        data = await self._download(context, source)
        chat, key, reply_to = self._chat(update), f"tg:{update.update_id}", str(source.message_id)
        if command == SUIT:
            example = None if exemplar is None else await self._download(context, exemplar)
            submitted = await asyncio.to_thread(
                functools.partial(
                    self.studio.submit_suit,
                    chat,
                    data,
                    options or SuitOptions.defaults(),
                    exemplar_bytes=example,
                    update_key=key,
                    reply_to_message_id=reply_to,
                )
            )
        else:
            submitted = await asyncio.to_thread(
                self.studio.submit_unmask, chat, data, update_key=key, reply_to_message_id=reply_to
            )
        if submitted.duplicate:  # Telegram delivered this update before: the first copy answered
            return
        text = t("job.queued", self._lang(update), position=submitted.position)
        status = await _message(update).reply_text(text)
        await asyncio.to_thread(self.studio.set_status_message, submitted.job_id, str(status.message_id))

    async def _download(self, context: Context, source: Message) -> bytes:
        media = image_of(source)
        if media is None:
            raise UserError("intake.not_image")
        check_declared_size(media.file_size, self.max_bytes)
        return await self.downloader.download(context.bot, media.file_id, self.max_bytes, media.file_size)

    def _suit_prompt(self, options: SuitOptions, lang: str) -> str:
        minutes = max(1, self.settings.telegram.pending_command_ttl_s // 60)
        return t("suit.send_photo", lang, minutes=minutes, summary=options.summary(lang))

    def _chat(self, update: Update) -> ChatRef:
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None, "routed updates always come from a user in a chat"
        return ChatRef("telegram", str(user.id), str(chat.id), self._lang(update))

    def _lang(self, update: Update) -> str:
        code = update.effective_user.language_code if update.effective_user else None
        return normalize_language(code, self.settings.default_language)


def image_of(message: Message) -> PhotoSize | Document | None:
    """The largest size of a photo, or a document that may be an image; ``UserError`` for a document whose
    type and name both say it is something else (a PDF, a video): no point downloading it."""
    if message.photo:
        return max(message.photo, key=lambda size: (size.width * size.height, size.file_size or 0))
    document = message.document
    if document is None:
        return None
    mime = (document.mime_type or "").lower()
    suffix = PurePosixPath(document.file_name or "").suffix.lower()
    says_other = mime not in UNKNOWN_MIME_TYPES and not mime.startswith("image/")
    if says_other and suffix not in IMAGE_EXTENSIONS:
        raise UserError("intake.not_image")
    return document


def _message(update: Update) -> Message:
    assert update.effective_message is not None, "routed updates always carry a message"
    return update.effective_message
