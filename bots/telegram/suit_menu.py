"""The /suit option buttons: rows of inline buttons under "now send the photo", one row per option.

Callback data is ``suit:<owner user id>:<option>:<value>`` (under Telegram's 64-byte limit), so a button
pressed by anyone but the member who sent /suit is refused without a database lookup. The choice itself
lives in the database (the pending command's options), never in the message or in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.idphoto.catalog import SuitOptions, catalog
from core.messages import t

PREFIX = "suit"
CHOSEN = "● "


@dataclass(frozen=True)
class SuitButton:
    owner_id: str
    option: str  # a SuitOptions field
    value: str

    @classmethod
    def parse(cls, data: str) -> SuitButton | None:
        parts = data.split(":")
        if len(parts) != 4 or parts[0] != PREFIX:
            return None
        return cls(parts[1], parts[2], parts[3])

    def change(self) -> dict[str, object]:
        """The pending options to change; ``{}`` for data no button of ours carries."""
        if self.option == "look":  # one row for style-ish choices: tie / no tie / women's cut
            return {"tie": self.value == "tie", "cut": "women" if self.value == "women" else "classic"}
        c = catalog()
        choices: dict[str, set[str]] = {
            "style": set(c.styles),
            "background": set(c.backgrounds),
            "format": set(c.formats),
        }
        return {self.option: self.value} if self.value in choices.get(self.option, set()) else {}

    @property
    def data(self) -> str:
        return f"{PREFIX}:{self.owner_id}:{self.option}:{self.value}"


def suit_keyboard(options: SuitOptions, owner_id: str, lang: str) -> InlineKeyboardMarkup:
    c = catalog()
    look = "women" if options.cut == "women" else ("tie" if options.tie else "no-tie")
    rows = [
        [
            _button(owner_id, "style", key, t(f"suit.style.{key}", lang), key == options.style)
            for key in c.styles
        ],
        [
            _button(owner_id, "look", "tie", t("suit.tie.tie", lang), look == "tie"),
            _button(owner_id, "look", "no-tie", t("suit.tie.no-tie", lang), look == "no-tie"),
            _button(owner_id, "look", "women", t("suit.cut.women", lang), look == "women"),
        ],
        [
            _button(owner_id, "background", key, t(f"suit.background.{key}", lang), key == options.background)
            for key in c.backgrounds
        ],
    ]
    formats = [
        _button(owner_id, "format", key, t(f"suit.format.{key}", lang), key == options.format)
        for key in c.formats
    ]
    rows += [formats[i : i + 2] for i in range(0, len(formats), 2)]
    return InlineKeyboardMarkup(rows)


def _button(owner_id: str, option: str, value: str, label: str, chosen: bool) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        (CHOSEN if chosen else "") + label, callback_data=SuitButton(owner_id, option, value).data
    )
