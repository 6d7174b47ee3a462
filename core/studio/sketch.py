"""/sketch in the chat: a drawing (a photo of paper, an image file) with an optional strength becomes a job;
without a drawing the member is shown the way to the drawing canvas.

The canvas is a web page the bot process serves. Telegram opens it inside the chat as a Mini App and signs
the member in itself; everywhere else the member gets a signed link that expires
(``core.studio.canvas_links``), shown only where nobody else reads it. On a server whose models cannot draw
faces (the offline tier without the face prior), /sketch says so instead of answering with a toy.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol

from core.config import Settings
from core.errors import UserError
from core.imaging.sketch_support import can_draw_faces
from core.messages import MESSAGES, t
from core.ports import ChatRef
from core.studio.canvas_links import canvas_url, make_canvas_token
from core.studio.commands import Button, Buttons, Reply, Sketch, Upload
from core.studio.jobdesk import JobDesk, Submitted

# How closely the face follows the drawing when the member gives no number (0: loosely, 1: line for line).
DEFAULT_STRENGTH = 0.6
CANVAS_PATH = "/sketch"


class Desk(Protocol):
    """What the sketch desk uses of the command desk (``core.studio.frontdesk.FrontDesk``)."""

    jobs: JobDesk

    async def fetch_own(self, chat: ChatRef, upload: Upload) -> bytes: ...
    async def may_start(self, chat: ChatRef, kind: str, key: str | None) -> None: ...
    async def queued(self, submitted: Submitted, chat: ChatRef) -> Reply: ...


def parse_strength(words: tuple[str, ...]) -> float:
    """The strength a member typed after /sketch ("0.7", "0,7"); ``DEFAULT_STRENGTH`` when none. Anything
    but one number from 0 to 1 is refused with a sentence that says what is wanted."""
    if not words:
        return DEFAULT_STRENGTH
    typed = " ".join(words)
    try:
        strength = float(typed.replace(",", "."))
    except ValueError:
        strength = math.nan
    if not 0.0 <= strength <= 1.0:  # NaN and infinities fail this too
        raise UserError("sketch.bad_strength", word=typed[:20])  # echoed back: not a whole paragraph
    return strength


class SketchDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.jobs = desk.jobs
        self.settings: Settings = desk.jobs.settings

    async def command(self, command: Sketch) -> Reply:
        chat = command.chat
        if not can_draw_faces(self.settings.models):
            raise UserError("sketch.unavailable")
        strength = parse_strength(command.words)
        if command.drawing is None:
            return self.canvas(chat, private=command.private)
        await self.desk.may_start(chat, "sketch", command.key)  # the pause and the quotas, before a download
        drawing = await self.desk.fetch_own(chat, command.drawing)
        submitted = await asyncio.to_thread(
            self.jobs.submit_sketch,
            chat,
            drawing,
            strength,
            update_key=command.key,
            reply_to_message_id=command.drawing.message_id,
        )
        return await self.desk.queued(submitted, chat)

    def canvas(self, chat: ChatRef, *, private: bool) -> Reply:
        """The canvas button where there is a canvas to open and only the member reads the answer; in any
        case how a drawing on paper or an image file is sent instead."""
        how = _platform_text("sketch.how", chat)
        buttons = self.canvas_buttons(chat) if private else ()
        if not buttons:
            return Reply(how)
        return Reply(f"{t('sketch.canvas', chat.lang)}\n{how}", buttons=buttons)

    def canvas_buttons(self, chat: ChatRef) -> Buttons:
        web = self.settings.web
        secret = web.secret.get_secret_value() if web.secret is not None else ""
        # The console's member sits at the machine that serves the canvas; everyone else reaches it through
        # the operator's public HTTPS address.
        local = chat.platform == "console"
        base = f"http://127.0.0.1:{web.port}" if local else web.public_url.rstrip("/")
        if not base or not secret:
            return ()
        token = make_canvas_token(secret, chat, web.link_ttl_s)
        button = Button(
            t("sketch.canvas_button", chat.lang),
            "",
            "primary",
            url=canvas_url(base, token),
            # Telegram opens a Mini App only over HTTPS; over plain HTTP the signed link still works.
            app_url=f"{base}{CANVAS_PATH}" if base.startswith("https://") else None,
        )
        return ((button,),)


def _platform_text(key: str, chat: ChatRef) -> str:
    """``key``, or its variant for the member's platform where attaching a drawing works differently."""
    own = f"{key}.{chat.platform}"
    return t(own if own in MESSAGES["en"] else key, chat.lang)
