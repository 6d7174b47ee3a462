"""The core's buttons as Telegram inline keyboards (callback data is the button's data, under 64 bytes)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from core.studio.commands import Button, Buttons


def keyboard(buttons: Buttons) -> InlineKeyboardMarkup | None:
    """``None`` for no buttons: an edit without a keyboard removes the old one."""
    if not buttons:
        return None
    return InlineKeyboardMarkup([[_button(button) for button in row] for row in buttons])


def _button(button: Button) -> InlineKeyboardButton:
    """A press comes back to us as a callback; a page opens as a Mini App inside the chat, where Telegram
    signs the member in (the core offers one only in a private chat, the one place Telegram opens them from
    a message), or else as a plain link."""
    if button.app_url is not None:
        return InlineKeyboardButton(button.label, web_app=WebAppInfo(url=button.app_url))
    if button.url is not None:
        return InlineKeyboardButton(button.label, url=button.url)
    return InlineKeyboardButton(button.label, callback_data=button.data)
