"""Update callbacks: turn the update into a core command, await ``Studio.handle``, render the reply.
Routing lives in ``app.build_application``.

Polling confirms updates to Telegram before these run, so the photo is persisted and queued here and nothing
slow happens: the byte-capped download is I/O, intake and the database write run in a thread (< 100 ms),
and the pipeline runs on a worker. A user mistake comes back from the core as a reply in the user's language;
anything else goes to ``on_error``: a logged traceback and an apology with an error id.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid

from telegram import Document, Message, PhotoSize, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bots.telegram.files import FileDownloader
from bots.telegram.keyboards import keyboard
from core.config import Settings
from core.errors import UserError
from core.messages import normalize_language, t
from core.ports import ChatRef
from core.studio import commands
from core.studio.commands import Reply, Upload
from core.studio.service import Studio

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


# How many uncaptioned album photos are remembered (the latest), and for how long: an album's photos arrive
# within a second or two of each other.
_ALBUM_PHOTOS = 256
_ALBUM_WINDOW_S = 120.0


class TelegramHandlers:
    def __init__(self, settings: Settings, studio: Studio, downloader: FileDownloader) -> None:
        self.settings = settings
        self.studio = studio
        self.downloader = downloader
        # Uncaptioned photos of recent albums, by (chat, album): (arrived at, message id, upload). A client
        # may put an album's caption on a later photo; the earlier ones then came as plain photos.
        self._album_photos: collections.OrderedDict[tuple[int, str], list[tuple[float, int, Upload]]] = (
            collections.OrderedDict()
        )

    async def start(self, update: Update, context: Context) -> None:
        await self._run(update, commands.Start(chat=self._chat(update)))

    async def help(self, update: Update, context: Context) -> None:
        await self._run(update, commands.Help(chat=self._chat(update)))

    async def unmask_command(self, update: Update, context: Context) -> None:
        """``/unmask`` as text: a reply to a photo processes that photo; otherwise wait for the next one."""
        photo = self._replied(context, update)
        await self._run(update, commands.Unmask(chat=self._chat(update), photo=photo, key=_key(update)))

    async def unmask_media(self, update: Update, context: Context) -> None:
        """A photo or file with the caption ``/unmask``."""
        photo = self._upload(context, _message(update))
        await self._run(update, commands.Unmask(chat=self._chat(update), photo=photo, key=_key(update)))

    async def suit_command(self, update: Update, context: Context) -> None:
        """``/suit [options]`` as text: a reply to a photo processes it; otherwise show the option buttons
        and wait for the photo."""
        photo = self._replied(context, update)
        command = commands.Suit(
            chat=self._chat(update), photo=photo, words=tuple(context.args or ()), key=_key(update)
        )
        await self._run(update, command)

    async def suit_media(self, update: Update, context: Context) -> None:
        """A photo or file with the caption ``/suit [options]``. Sent as a reply to another photo, that photo
        is the portrait and this one the suit to follow."""
        message = _message(update)
        words = tuple((message.caption or "").split()[1:])
        portrait = self._replied(context, update)
        this = self._upload(context, message)
        photo, exemplar = (portrait, this) if portrait is not None else (this, None)
        command = commands.Suit(
            chat=self._chat(update), photo=photo, words=words, exemplar=exemplar, key=_key(update)
        )
        await self._run(update, command)

    async def tryon_command(self, update: Update, context: Context) -> None:
        """``/tryon`` as text: a reply to the member's photo holds it and asks for the garment; otherwise ask
        for both photos."""
        photo = self._replied(context, update)
        await self._run(update, commands.TryOn(chat=self._chat(update), photo=photo, key=_key(update)))

    async def tryon_media(self, update: Update, context: Context) -> None:
        """A photo or file with the caption ``/tryon``: the member's photo (an album's first, the garment
        following in the same album), or, sent as a reply to the member's photo, the garment."""
        message = _message(update)
        this = self._upload(context, message)
        person = self._replied(context, update) or self._earlier_in_album(message)
        photo, garment = (person, this) if person is not None else (this, None)
        command = commands.TryOn(chat=self._chat(update), photo=photo, garment=garment, key=_key(update))
        await self._run(update, command)

    async def sketch_command(self, update: Update, context: Context) -> None:
        """``/sketch [strength]`` as text: a reply to a drawing's photo paints it; otherwise the way to the
        canvas (its button only in a private chat: it draws as the member who asked)."""
        drawing = self._replied(context, update)
        await self._run(update, self._sketch(update, drawing, tuple(context.args or ())))

    async def sketch_media(self, update: Update, context: Context) -> None:
        """A photo or image file of a drawing with the caption ``/sketch [strength]``."""
        message = _message(update)
        drawing = self._upload(context, message)
        await self._run(update, self._sketch(update, drawing, tuple((message.caption or "").split()[1:])))

    def _sketch(self, update: Update, drawing: Upload | None, words: tuple[str, ...]) -> commands.Sketch:
        private = update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE
        return commands.Sketch(
            chat=self._chat(update), drawing=drawing, words=words, private=private, key=_key(update)
        )

    async def media(self, update: Update, context: Context) -> None:
        """A photo or file without a command: a selfie, the photo a pending command waits for, or a
        question (private chats only: groups share photos)."""
        message = _message(update)
        photo = self._upload(context, message)
        assert photo is not None, "routed by the photo/document filter"
        self._remember_album_photo(message, photo)
        private = update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE
        command = commands.Photo(chat=self._chat(update), photo=photo, private=private, key=_key(update))
        await self._run(update, command)

    async def train(self, update: Update, context: Context) -> None:
        await self._run(update, commands.Train(chat=self._chat(update), key=_key(update)))

    async def done(self, update: Update, context: Context) -> None:
        await self._run(update, commands.Done(chat=self._chat(update), key=_key(update)))

    async def status(self, update: Update, context: Context) -> None:
        await self._run(update, commands.Status(chat=self._chat(update)))

    async def cancel(self, update: Update, context: Context) -> None:
        await self._run(update, commands.Cancel(chat=self._chat(update)))

    async def settings_command(self, update: Update, context: Context) -> None:
        await self._run(update, commands.Settings(chat=self._chat(update)))

    async def forget(self, update: Update, context: Context) -> None:
        await self._run(update, commands.Forget(chat=self._chat(update)))

    async def admin(self, update: Update, context: Context) -> None:
        """Operators only (the core refuses everyone else); listed in the operators' own menu alone."""
        words = tuple(context.args or ())
        await self._run(update, commands.Admin(chat=self._chat(update), words=words))

    async def privacy(self, update: Update, context: Context) -> None:
        await self._run(update, commands.Privacy(chat=self._chat(update)))

    async def button(self, update: Update, context: Context) -> None:
        """Any of our inline buttons: the core checks who pressed it and answers."""
        query = update.callback_query
        assert query is not None and query.data is not None
        press = commands.Press(chat=self._chat(update), data=query.data, key=_key(update))
        reply = await self.studio.handle(press)
        if reply.error:  # someone else's button, an expired choice: a toast, the message stays
            await query.answer(reply.text)
            return
        await query.answer()
        if reply.replace:
            with contextlib.suppress(BadRequest):  # "message is not modified": the same button twice
                await query.edit_message_text(reply.text, reply_markup=keyboard(reply.buttons))
        elif not reply.silent and update.effective_chat is not None:
            sent = await update.effective_chat.send_message(
                reply.text, reply_markup=keyboard(reply.buttons), reply_parameters=_reply_to(reply)
            )
            await self._track(reply, sent)

    async def on_error(self, update: object, context: Context) -> None:
        message = update.effective_message if isinstance(update, Update) else None
        lang = self._lang(update) if isinstance(update, Update) else self.settings.default_language
        if isinstance(context.error, UserError):  # raised outside the core (none expected): still a sentence
            if message is not None:
                await message.reply_text(context.error.render(lang))
            return
        error_id = uuid.uuid4().hex[:8]
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed (error id %s)", update_id, error_id, exc_info=context.error)
        if message is not None:
            await message.reply_text(t("error.internal", lang, error_id=error_id))

    def _remember_album_photo(self, message: Message, photo: Upload) -> None:
        if message.media_group_id is None:
            return
        album = (message.chat.id, message.media_group_id)
        seen = self._album_photos.setdefault(album, [])
        if all(message_id != message.message_id for _, message_id, _ in seen):  # not a redelivered copy
            seen.append((time.monotonic(), message.message_id, photo))
        self._album_photos.move_to_end(album)
        while len(self._album_photos) > _ALBUM_PHOTOS:
            self._album_photos.popitem(last=False)

    def _earlier_in_album(self, message: Message) -> Upload | None:
        """The album's first photo, when it came before this captioned one without a caption."""
        if message.media_group_id is None:
            return None
        seen = self._album_photos.get((message.chat.id, message.media_group_id), [])
        now = time.monotonic()
        earlier = [
            (message_id, photo)
            for at, message_id, photo in seen
            if message_id < message.message_id and now - at <= _ALBUM_WINDOW_S
        ]
        return min(earlier, key=lambda item: item[0])[1] if earlier else None

    # --- rendering -------------------------------------------------------------------------------------
    async def _run(self, update: Update, command: commands.Command) -> None:
        reply = await self.studio.handle(command)
        if reply.silent:
            return
        sent = await _message(update).reply_text(reply.text, reply_markup=keyboard(reply.buttons))
        await self._track(reply, sent)

    async def _track(self, reply: Reply, sent: Message) -> None:
        if reply.job_id is not None:  # the status message the Deliverer edits with progress
            await asyncio.to_thread(self.studio.set_status_message, reply.job_id, str(sent.message_id))

    def _replied(self, context: Context, update: Update) -> Upload | None:
        """The photo of the message this command replies to; in a group, with who sent it (in a private chat
        it is the user's own, or the bot's answer to them)."""
        message = _message(update)
        return self._upload(context, message.reply_to_message, replied=message.chat.type != "private")

    def _upload(self, context: Context, message: Message | None, *, replied: bool = False) -> Upload | None:
        media = None if message is None else image_of(message)
        if message is None or media is None:
            return None
        file_id, size = media.file_id, media.file_size

        async def fetch(max_bytes: int) -> bytes:
            return await self.downloader.download(context.bot, file_id, max_bytes, size)

        document = media if isinstance(media, Document) else None
        return Upload(
            fetch=fetch,
            size=size,
            content_type=document.mime_type if document else None,
            filename=document.file_name if document else None,
            limit=self.settings.telegram.max_download_bytes,
            message_id=str(message.message_id),
            sender_id=_sender_id(message) if replied else None,
            # The rest of an album is on its way; an earlier message's album is no news.
            album=None if replied else message.media_group_id,
        )

    def _chat(self, update: Update) -> ChatRef:
        """Who is asking, in which chat. A message sent on behalf of a chat (an anonymous group admin, a post
        "as a channel") comes from a stand-in user that Telegram shares with every such sender everywhere: the
        chat it speaks for is the sender then (chat ids are negative, so they never meet a user id)."""
        sender, chat = update.effective_sender, update.effective_chat
        assert sender is not None and chat is not None, "routed updates always come from a sender in a chat"
        return ChatRef("telegram", str(sender.id), str(chat.id), self._lang(update))

    def _lang(self, update: Update) -> str:
        code = update.effective_user.language_code if update.effective_user else None
        return normalize_language(code, self.settings.default_language)


def _sender_id(message: Message) -> str | None:
    """Who sent ``message``, as ``Handlers._chat`` names users: the chat it was sent on behalf of, if any."""
    sender = message.sender_chat or message.from_user
    return None if sender is None else str(sender.id)


def image_of(message: Message) -> PhotoSize | Document | None:
    """The largest size of a photo, or the document (the core decides whether it may be an image)."""
    if message.photo:
        return max(message.photo, key=lambda size: (size.width * size.height, size.file_size or 0))
    return message.document


def _key(update: Update) -> str:
    return f"tg:{update.update_id}"


def _reply_to(reply: Reply) -> ReplyParameters | None:
    if reply.reply_to is None:
        return None
    return ReplyParameters(int(reply.reply_to), allow_sending_without_reply=True)


def _message(update: Update) -> Message:
    assert update.effective_message is not None, "routed updates always carry a message"
    return update.effective_message
