"""Telegram's side of initData, written here from Telegram's description (not from ``bots.web.initdata``), so
that a test signs as Telegram would and the bot checks it independently."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from urllib.parse import urlencode

from PIL import Image, ImageDraw

BOT_TOKEN = "123456:test-token"


def telegram_init_data(
    user_id: int = 424242, *, lang: str = "en", auth_date: float | None = None, token: str = BOT_TOKEN
) -> str:
    user = {"id": user_id, "first_name": "Ada", "language_code": lang}
    fields = {
        "query_id": "AAH-test",
        "user": json.dumps(user, separators=(",", ":")),
        "auth_date": str(int(time.time() if auth_date is None else auth_date)),
    }
    check_string = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check_string.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def drawing_png(size: int = 256) -> bytes:
    """A face outline in black on white, as the canvas sends."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((size * 0.2, size * 0.1, size * 0.8, size * 0.9), outline="black", width=4)
    draw.line((size * 0.35, size * 0.7, size * 0.65, size * 0.7), fill="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
