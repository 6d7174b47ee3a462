"""The "Queued (position N)" message a drawing's job gets in the member's chat, as a photo's job does: the
studio renders it (``FrontDesk.queued``), a platform's announcer posts it, and the posted message becomes the
status message the Deliverer edits with progress. The result itself comes through the normal delivery."""

from __future__ import annotations

from typing import Protocol

from telegram import Bot

from bots.telegram.keyboards import keyboard
from core.ports import ChatRef
from core.studio.commands import Reply


class Announcer(Protocol):
    platform: str

    async def post(self, chat: ChatRef, reply: Reply) -> str:
        """Post ``reply`` in the member's chat; the message's id."""
        ...


class TelegramAnnouncer:
    """Posts with a ``Bot`` of its own: the web app runs beside the bot's polling application, not in it."""

    platform = "telegram"

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def post(self, chat: ChatRef, reply: Reply) -> str:
        await self._bot.initialize()  # once; its first call asks Telegram who the bot is
        message = await self._bot.send_message(
            int(chat.chat_id), reply.text, reply_markup=keyboard(reply.buttons)
        )
        return str(message.message_id)

    async def close(self) -> None:
        await self._bot.shutdown()
