"""Telegram Bot API objects as JSON, in the shapes Telegram sends (User, Chat, Message, PhotoSize...).

Used by the fake Bot API server and by unit tests that build ``telegram.Update.de_json`` inputs.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from typing import Any

from PIL import Image, UnidentifiedImageError

# Telegram keeps a few sizes of every photo; a client picks the one it needs.
THUMBNAIL_SIDES = (90, 320)
_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?")


def user(
    user_id: int,
    first_name: str,
    *,
    lang: str | None = "en",
    is_bot: bool = False,
    username: str | None = None,
) -> dict[str, Any]:
    shape: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if username is not None:
        shape["username"] = username
    if is_bot:
        shape.update(can_join_groups=True, can_read_all_group_messages=False, supports_inline_queries=False)
    elif lang is not None:
        shape["language_code"] = lang
    return shape


def private_chat(chat_id: int, first_name: str = "Mina") -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": first_name}


def message(message_id: int, chat_id: int, sender: dict[str, Any] | None) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": private_chat(chat_id),
    }
    if sender is not None:
        shape["from"] = sender
    return shape


def update(update_id: int, message_shape: dict[str, Any]) -> dict[str, Any]:
    return {"update_id": update_id, "message": message_shape}


def command_entities(field: str, text: str) -> dict[str, Any]:
    """``{"entities": [bot_command]}`` when ``text`` starts with a command, as Telegram marks it."""
    match = _COMMAND.match(text)
    if match is None:
        return {}
    return {field: [{"type": "bot_command", "offset": 0, "length": match.end()}]}


def image_size(data: bytes) -> dict[str, int]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return {"width": image.width, "height": image.height}
    except (UnidentifiedImageError, OSError):
        return {"width": 0, "height": 0}


def photo_sizes(
    data: bytes, add_file: Callable[[bytes, int | None], dict[str, Any]], declared_size: int | None
) -> list[dict[str, Any]]:
    """The ``photo`` array of a message: real downscaled JPEG thumbnails first, the full photo last."""
    full = image_size(data)
    sizes: list[dict[str, Any]] = []
    if full["width"]:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
        for side in THUMBNAIL_SIDES:
            if max(full["width"], full["height"]) <= side:
                break
            thumb = rgb.copy()
            thumb.thumbnail((side, side))
            buffer = io.BytesIO()
            thumb.save(buffer, format="JPEG", quality=80)
            sizes.append({**add_file(buffer.getvalue(), None), "width": thumb.width, "height": thumb.height})
    sizes.append({**add_file(data, declared_size), **full})
    return sizes
