"""Signed, expiring links to the /sketch canvas for one member.

A Discord member (or the console's user) opens the canvas from a link button; the page has no other way to
know who is drawing, so the link carries it: platform, user, chat, language and an expiry, as compact JSON in
base64url, and an HMAC-SHA256 of that under the server's secret. Whoever holds the link draws as that member
until it expires, which is why it is only ever shown to them (Discord: an ephemeral answer) and lives
minutes, not days. A Telegram Mini App needs none of this: Telegram signs the member into the page itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import quote

from core.ports import ChatRef

# What the signature covers besides the payload: a token made for anything else never reads as a canvas link.
_PURPOSE = b"atelier-sketch-canvas\n"
_FIELDS = ("p", "u", "c", "l", "e")  # platform, user id, chat id, language, expiry (Unix seconds)


class InvalidCanvasToken(ValueError):
    """A canvas token that is malformed, signed with another secret, altered, or expired."""


def make_canvas_token(secret: str, chat: ChatRef, ttl_s: int, now: float | None = None) -> str:
    """A token that ``read_canvas_token`` turns back into ``chat`` for ``ttl_s`` seconds from ``now``."""
    if not secret:
        raise ValueError("a canvas token needs a secret: anyone could forge one signed with an empty key")
    if ttl_s <= 0:
        raise ValueError(f"ttl_s must be positive, not {ttl_s}")
    expiry = int((time.time() if now is None else now) + ttl_s)
    fields = dict(zip(_FIELDS, (chat.platform, chat.user_id, chat.chat_id, chat.lang, expiry), strict=True))
    payload = _encode(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{payload}.{_encode(_sign(secret, payload))}"


def read_canvas_token(secret: str, token: str, now: float | None = None) -> ChatRef:
    """The member a token was made for. Raises ``InvalidCanvasToken`` unless it was signed with ``secret``,
    is unaltered and has not expired."""
    payload, dot, signature = token.partition(".")
    if not secret or not dot or not hmac.compare_digest(_sign(secret, payload), _decode(signature)):
        raise InvalidCanvasToken("the canvas link is not ours")
    fields = _fields(_decode(payload))
    if (time.time() if now is None else now) >= fields["e"]:
        raise InvalidCanvasToken("the canvas link has expired")
    return ChatRef(fields["p"], fields["u"], fields["c"], fields["l"])


def canvas_url(public_url: str, token: str) -> str:
    """The canvas page at ``public_url`` (no trailing slash needed) for the member ``token`` names."""
    return f"{public_url.rstrip('/')}/sketch?token={quote(token, safe='')}"


def _sign(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE + payload.encode("ascii", "replace"), hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidCanvasToken("the canvas link is garbled") from error


def _fields(payload: bytes) -> dict[str, Any]:
    try:
        fields = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidCanvasToken("the canvas link is garbled") from error
    if (
        not isinstance(fields, dict)
        or not all(isinstance(fields.get(name), str) for name in _FIELDS[:4])
        or not isinstance(fields.get("e"), int)
    ):
        raise InvalidCanvasToken("the canvas link is garbled")
    return fields
