"""Telegram Mini App ``initData``, checked as Telegram specifies
(https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app):

- the data-check-string is every ``key=value`` pair except ``hash``, sorted by key, joined by ``\\n``;
- the secret key is HMAC-SHA256 of the bot token with the key ``"WebAppData"``;
- ``hash`` is the hex HMAC-SHA256 of the data-check-string with that secret key;
- ``auth_date`` (Unix seconds) must be recent, or a leaked initData would open the canvas forever.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qsl

from core.messages import normalize_language
from core.ports import ChatRef

# A clock a little behind Telegram's must not refuse a fresh initData.
CLOCK_SKEW_S = 60


class InvalidInitData(Exception):
    """Not signed by Telegram for this bot, too old, or malformed."""


def check_init_data(init_data: str, bot_token: str, *, max_age_s: float, now: float | None = None) -> dict:
    """The fields of ``init_data`` once its signature and age are good; ``InvalidInitData`` otherwise."""
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError as error:
        raise InvalidInitData("malformed") from error
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InvalidInitData("a key appears twice")
    received = fields.pop("hash", None)
    if not received:
        raise InvalidInitData("no hash")
    check_string = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check_string.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, received.lower()):
        raise InvalidInitData("bad signature")
    try:
        auth_date = int(fields["auth_date"])
    except (KeyError, ValueError) as error:
        raise InvalidInitData("no auth_date") from error
    age = (time.time() if now is None else now) - auth_date
    if age > max_age_s or age < -CLOCK_SKEW_S:
        raise InvalidInitData("stale")
    return fields


def chat_from_init_data(
    init_data: str, bot_token: str, *, max_age_s: float, default_lang: str = "en", now: float | None = None
) -> ChatRef:
    """The Telegram user who opened the Mini App; results go to their private chat with the bot (whose id
    is the user's id)."""
    fields = check_init_data(init_data, bot_token, max_age_s=max_age_s, now=now)
    try:
        user = json.loads(fields["user"])
        user_id = str(int(user["id"]))
    except (KeyError, ValueError, TypeError) as error:
        raise InvalidInitData("no user") from error
    lang = normalize_language(user.get("language_code"), default_lang)
    return ChatRef("telegram", user_id, user_id, lang)
