"""Discord API payloads in the shapes discord.py parses: users, messages, attachments and the gateway's
INTERACTION_CREATE payloads (slash commands and button presses)."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

APP_ID = 990000000000000001
BOT_ID = APP_ID
GUILD_ID = 990000000000000100
DISCORD_EPOCH_MS = 1420070400000
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024

# Option types of the application command payloads.
OPTION_STRING, OPTION_NUMBER, OPTION_ATTACHMENT = 3, 10, 11
CHANNEL_GUILD_TEXT, CHANNEL_DM = 0, 1

_sequence = itertools.count(1)


def snowflake() -> int:
    """A fresh id whose timestamp is now, as Discord makes them."""
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_sequence) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: int, name: str = "mina", *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


BOT_USER = user(BOT_ID, "atelier", bot=True)


def application() -> dict[str, Any]:
    return {
        "id": str(APP_ID),
        "name": "Atelier",
        "icon": None,
        "description": "",
        "summary": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user(990000000000000002, "owner"),
        "verify_key": "0" * 64,
        "flags": 0,
        "bot": BOT_USER,
    }


def message(
    message_id: int,
    channel_id: int,
    *,
    content: str = "",
    author: dict[str, Any] | None = None,
    flags: int = 0,
    components: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    reference: int | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author or BOT_USER,
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": attachments or [],
        "embeds": [],
        "pinned": False,
        "type": 0 if reference is None else 19,
        "flags": flags,
        "components": components or [],
    }
    if reference is not None:
        payload["message_reference"] = {"message_id": str(reference), "channel_id": str(channel_id)}
    return payload


def attachment(
    attachment_id: int, url: str, *, size: int, filename: str, content_type: str | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
    }
    if content_type is not None:
        payload["content_type"] = content_type
    return payload


def channel(channel_id: int, guild_id: int | None) -> dict[str, Any]:
    if guild_id is None:
        return {"id": str(channel_id), "type": CHANNEL_DM, "recipients": [], "last_message_id": None}
    return {
        "id": str(channel_id),
        "type": CHANNEL_GUILD_TEXT,
        "guild_id": str(guild_id),
        "name": "studio",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


def interaction(
    *,
    kind: int,
    token: str,
    user_id: int,
    channel_id: int,
    guild_id: int | None,
    data: dict[str, Any],
    locale: str = "en-US",
    attachment_size_limit: int = DEFAULT_ATTACHMENT_LIMIT,
    message_payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload (``kind`` 2: slash command, 3: message component)."""
    person = user(user_id)
    payload: dict[str, Any] = {
        "id": str(snowflake()),
        "application_id": str(APP_ID),
        "type": kind,
        "token": token,
        "version": 1,
        "locale": locale,
        "channel_id": str(channel_id),
        "channel": channel(channel_id, guild_id),
        "app_permissions": "2248473465835073",
        "attachment_size_limit": attachment_size_limit,
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild_id)} if guild_id else {"1": str(user_id)},
        "context": 0 if guild_id else 1,
        "data": data,
    }
    if guild_id is None:
        payload["user"] = person
    else:
        payload["guild_id"] = str(guild_id)
        payload["guild_locale"] = "en-US"
        payload["member"] = {
            "user": person,
            "roles": [],
            "joined_at": iso_now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "2248473465835073",
        }
    if message_payload is not None:
        payload["message"] = message_payload
    return payload


def command_data(
    name: str,
    *,
    strings: dict[str, str] | None = None,
    files: dict[str, dict[str, Any]] | None = None,
    guild_id: int | None = None,
    numbers: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The ``data`` of a slash command: string and number options by value, attachment options by their
    payload."""
    options: list[dict[str, Any]] = [
        {"name": key, "type": OPTION_STRING, "value": value} for key, value in (strings or {}).items()
    ]
    options += [
        {"name": key, "type": OPTION_NUMBER, "value": value} for key, value in (numbers or {}).items()
    ]
    resolved: dict[str, Any] = {}
    for key, file in (files or {}).items():
        options.append({"name": key, "type": OPTION_ATTACHMENT, "value": file["id"]})
        resolved.setdefault("attachments", {})[file["id"]] = file
    data: dict[str, Any] = {"id": str(snowflake()), "name": name, "type": 1, "options": options}
    if resolved:
        data["resolved"] = resolved
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


def button_data(custom_id: str) -> dict[str, Any]:
    return {"custom_id": custom_id, "component_type": 2}
