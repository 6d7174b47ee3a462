"""The core's buttons as Telegram inline keyboards (callback data is the button's data, under 64 bytes)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.studio.commands import Buttons


def keyboard(buttons: Buttons) -> InlineKeyboardMarkup | None:
    """``None`` for no buttons: an edit without a keyboard removes the old one."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(button.label, callback_data=button.data) for button in row] for row in buttons]
    )
