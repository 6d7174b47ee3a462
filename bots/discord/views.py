"""The core's buttons as Discord message components.

A ``discord.ui.View`` is only the carrier of our buttons here: every press arrives at the client's own
``on_interaction`` (``custom_id`` is the core's ``Button.data``) and the core decides what it means and who
may press it. The view is therefore stopped before it is sent: discord.py keeps every unfinished view it
sends in memory to dispatch presses to it, which would grow with every message the bot ever sent.
"""

from __future__ import annotations

import discord

from core.studio.commands import Button, Buttons

# Discord: at most 5 rows of 5 buttons, labels up to 80 characters, custom ids up to 100.
MAX_ROWS, MAX_PER_ROW, MAX_LABEL = 5, 5, 80
MAX_CONTENT = 2000
_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}


def make_view(buttons: Buttons) -> discord.ui.View | None:
    """A stopped view carrying ``buttons``; ``None`` when there are none (an edit then removes old ones).
    Must be called inside the running event loop, where discord.py can mark the view finished."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for row, items in enumerate(buttons[:MAX_ROWS]):
        for button in items[:MAX_PER_ROW]:
            view.add_item(_item(button, row))
    view.stop()
    return view


def _item(button: Button, row: int) -> discord.ui.Button[discord.ui.View]:
    """A press comes back to us by ``custom_id``; a link opens its page (Discord has no in-chat pages that
    sign the member in, so a link carries who they are itself: ``Button.url``)."""
    label = button.label[:MAX_LABEL]
    if button.is_link:
        url = button.url or button.app_url
        return discord.ui.Button(label=label, url=url, style=discord.ButtonStyle.link, row=row)
    style = _STYLES.get(button.style, discord.ButtonStyle.secondary)
    return discord.ui.Button(label=label, custom_id=button.data, style=style, row=row)


def clip(text: str) -> str:
    """Discord refuses message content over 2,000 characters; none of ours should get there."""
    return text if len(text) <= MAX_CONTENT else text[: MAX_CONTENT - 1] + "…"
