"""The Telegram bot process: routing (``build_application``) and the process itself (``run_bot``).

The process polls Telegram and runs the core ``Deliverer`` side by side: updates become jobs through the
studio, finished jobs come back from the database (durable) with Redis events as the fast path. It imports
no model library; work reaches the workers by Celery task name. Every request the bot makes, replies and
deliveries alike, is paced by python-telegram-bot's ``AIORateLimiter`` with a per-private-chat pace added
(``rate_limiter``, ``bots.telegram.pacing``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Collection, Sequence

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Message, MessageEntity, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bots.processes import stop_on_signals, widen_thread_pool
from bots.telegram.files import FileDownloader, install_token_redaction
from bots.telegram.handlers import TelegramHandlers
from bots.telegram.ordering import PerChatUpdateProcessor
from bots.telegram.pacing import PacedRateLimiter
from bots.telegram.sender import TelegramResultSender
from core.config import Settings
from core.messages import LANGUAGES, t
from core.studio.commands import command_table, unavailable_commands
from core.studio.service import Studio

log = logging.getLogger(__name__)

# The menu: Telegram's own /start, then the core's table (the same commands every front end offers).
COMMANDS = ("start", *(spec.name for spec in command_table()))
BUTTON_PATTERN = r"^(suit|train|settings|forget|job):"
# Updates processed at once (different chats; one chat's updates stay in order).
MAX_CONCURRENT_UPDATES = 64
# Telegram's published flood limits for a bot: about 30 messages a second in all, 20 a minute in one group,
# about one a second in one private chat (with short bursts; Telegram gives no exact figure).
MESSAGES_PER_SECOND = 30
GROUP_MESSAGES_PER_MINUTE = 20
PRIVATE_BURST = 3


class _CaptionCommand(filters.MessageFilter):
    """A caption that starts with ``/command`` (or ``/command@this_bot``), as CommandHandler does for text."""

    def __init__(self, command: str) -> None:
        super().__init__(name=f"CaptionCommand({command})")
        self.command = command

    def filter(self, message: Message) -> bool:
        entities, caption = message.caption_entities, message.caption or ""
        if not entities or entities[0].type != MessageEntity.BOT_COMMAND or entities[0].offset != 0:
            return False
        name, _, username = caption[1 : entities[0].length].partition("@")
        return name.lower() == self.command and username.lower() in ("", message.get_bot().username.lower())


def rate_limiter() -> PacedRateLimiter:
    """The pacing of every request the bot makes. It does not retry a 429 itself: its retries pause every
    chat for as long as one chat was told to wait, so the result sender waits out a 429 for that send alone
    (``bots.telegram.sender``) and a handler's reply reports it to the central error handler."""
    # With no retries of its own the limiter logs each 429 it passes on as an error with a traceback; the
    # sender or the error handler logs it once, where it is handled.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    return PacedRateLimiter(
        overall_max_rate=MESSAGES_PER_SECOND,
        overall_time_period=1,
        group_max_rate=GROUP_MESSAGES_PER_MINUTE,
        group_time_period=60,
        private_burst=PRIVATE_BURST,
        private_time_period=PRIVATE_BURST,
    )


def build_application(settings: Settings, studio: Studio) -> Application:
    """The bot's routing. Requests go to ``{api_url}/bot{token}/{method}``, downloads to
    ``{api_url}/file/bot{token}/{path}``."""
    if settings.telegram.token is None:
        raise ValueError("settings.telegram.token is not set")
    api_url = settings.telegram.api_url.rstrip("/")
    downloader = FileDownloader()
    h = TelegramHandlers(settings, studio, downloader)

    async def close_downloads(_: Application) -> None:
        await downloader.aclose()

    application = (
        ApplicationBuilder()
        .token(settings.telegram.token.get_secret_value())
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .concurrent_updates(PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .rate_limiter(rate_limiter())
        .post_init(
            functools.partial(
                register_commands,
                operators=settings.studio.operators,
                hidden=unavailable_commands(settings),
            )
        )
        .post_shutdown(close_downloads)
        .build()
    )
    new = filters.UpdateType.MESSAGE  # an edited caption must not start a second job
    images = (filters.PHOTO | filters.Document.ALL) & new
    text_commands = {
        "start": h.start,
        "help": h.help,
        "unmask": h.unmask_command,
        "suit": h.suit_command,
        "tryon": h.tryon_command,
        "sketch": h.sketch_command,
        "train": h.train,
        "done": h.done,
        "status": h.status,
        "cancel": h.cancel,
        "settings": h.settings_command,
        "forget": h.forget,
        "privacy": h.privacy,
        "admin": h.admin,
    }
    for name, callback in text_commands.items():
        application.add_handler(CommandHandler(name, callback, filters=new))
    application.add_handler(MessageHandler(images & _CaptionCommand("unmask"), h.unmask_media))
    application.add_handler(MessageHandler(images & _CaptionCommand("suit"), h.suit_media))
    application.add_handler(MessageHandler(images & _CaptionCommand("tryon"), h.tryon_media))
    application.add_handler(MessageHandler(images & _CaptionCommand("sketch"), h.sketch_media))
    application.add_handler(CallbackQueryHandler(h.button, pattern=BUTTON_PATTERN))
    application.add_handler(MessageHandler(images & ~filters.CaptionRegex(r"^/"), h.media))
    application.add_error_handler(h.on_error)
    return application


async def register_commands(
    application: Application, operators: Sequence[str] = (), hidden: Collection[str] = ()
) -> None:
    """The command menu: English for everyone, plus every other catalogue language by ``language_code``.
    An operator's private chat with the bot gets its own menu with /admin; nobody else's lists it. Commands
    this server cannot do (``hidden``) are left out; sent anyway, they say so."""
    chats = [int(op.partition(":")[2]) for op in operators if op.startswith("telegram:")]
    offered = [name for name in COMMANDS if name not in hidden]
    for lang in LANGUAGES:
        language = None if lang == "en" else lang
        commands = [BotCommand(name, t(f"cmd.{name}", lang)) for name in offered]
        default = BotCommandScopeDefault()
        await application.bot.set_my_commands(commands, scope=default, language_code=language)
        for chat_id in chats:
            await application.bot.set_my_commands(
                [*commands, BotCommand("admin", t("cmd.admin", lang))],
                scope=BotCommandScopeChat(chat_id),
                language_code=language,
            )


async def run_bot(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Poll Telegram and deliver results until ``stop`` is set (or SIGINT/SIGTERM when none is given)."""
    from bots.wiring import wire

    if settings.telegram.token is None:
        raise ValueError("settings.telegram.token is not set")
    install_token_redaction(settings.telegram.token.get_secret_value())
    widen_thread_pool()
    wiring = await asyncio.to_thread(wire, settings)
    application = build_application(settings, wiring.studio)
    deliverer = wiring.deliverer(TelegramResultSender(application.bot, settings.telegram))
    stop = stop if stop is not None else stop_on_signals()

    async with application:  # initialize() ... shutdown()
        assert application.updater is not None
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        await application.updater.start_polling(
            timeout=int(settings.telegram.poll_timeout_s),
            drop_pending_updates=False,
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
        )
        delivery = asyncio.create_task(deliverer.run(), name="deliverer")
        stopped = asyncio.create_task(stop.wait(), name="stop")
        log.info("telegram bot @%s running", application.bot.username)
        try:
            await asyncio.wait({delivery, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            delivery.cancel()
            (outcome,) = await asyncio.gather(delivery, return_exceptions=True)
            wiring.close()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)
    if isinstance(outcome, Exception):  # the delivery loop is guarded; reaching here is a bug
        raise RuntimeError("result delivery stopped unexpectedly") from outcome
    log.info("telegram bot stopped")
