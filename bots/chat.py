"""The console front end: a typed line becomes a core command, the studio's reply is printed.

``/unmask path/to/photo.jpg`` queues a job like a photo captioned /unmask in a chat; a number presses the
button printed with it; ``/as NAME`` speaks as another member of the same chat (to see buttons refuse
everyone but their owner). ``atelier chat`` (``bots.chat_run``) puts this in front of the whole service; the
conversation tests put it in front of a studio with an in-memory queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import uuid

from rich.console import Console

from bots.chat_lines import UNKNOWN_LINE, parse_command, split_line
from bots.console import ButtonBoard, ConsoleScreen
from core.errors import UserError
from core.messages import t
from core.ports import ChatRef
from core.studio.commands import Command, Press, Reply
from core.studio.service import Studio

log = logging.getLogger(__name__)

PLATFORM = "console"
DEFAULT_USER, DEFAULT_CHAT = "operator", "local"
QUIT, SWITCH_USER = "/quit", "/as"
# User ids go into button data ("job:<owner>:cancel:<job id>", at most 64 bytes): no colons, 16 characters.
_USER_ID = re.compile(r"[A-Za-z0-9_.-]{1,16}")


def valid_user(user: str) -> bool:
    return _USER_ID.fullmatch(user) is not None


class ConsoleFrontEnd:
    def __init__(
        self,
        studio: Studio,
        console: Console,
        board: ButtonBoard,
        *,
        lang: str = "en",
        user: str = DEFAULT_USER,
        chat_id: str = DEFAULT_CHAT,
    ) -> None:
        if not valid_user(user):
            raise ValueError(f"a console user id is 1 to 16 letters, digits, '.', '_' or '-', not {user!r}")
        self.studio = studio
        self.screen = ConsoleScreen(console, board)
        self.chat = ChatRef(platform=PLATFORM, user_id=user, chat_id=chat_id, lang=lang)
        self.users = {user}  # everyone spoken as: whose jobs ``atelier chat`` waits for
        self.job_ids: list[str] = []  # status messages shown, in order
        self.closed = False
        # Keys are stored with the jobs, so a second run on the same data must not reuse the first one's.
        self._run_id = uuid.uuid4().hex[:8]
        self._lines = 0

    @property
    def prompt(self) -> str:
        return f"{self.chat.user_id}> "

    async def say(self, line: str, *, key: str | None = None) -> list[Reply]:
        """Send one typed line; the replies, as printed. ``key``: send it again under the key an earlier
        line had, as a platform redelivers an update."""
        words = split_line(line.strip())
        if not words or words[0].startswith("#"):  # comments make scripted conversations readable
            return []
        if words[0] == QUIT:
            self.closed = True
            return []
        if words[0] == SWITCH_USER and len(words) == 2 and valid_user(words[1]):
            self.chat = dataclasses.replace(self.chat, user_id=words[1])
            self.users.add(words[1])
            return []
        self._lines += 1
        key = key or self.key(self._lines)
        try:
            batch = self._press(words, key) if words[0].isdigit() else parse_command(words, self.chat, key)
        except UserError as error:
            replies = [Reply(error.render(self.chat.lang), error=True)]
        else:
            replies = [await self._handle(command) for command in batch]
        for reply in replies:
            await self._show(reply)
        return replies

    def key(self, line: int) -> str:
        """The idempotency key of the ``line``-th line of this conversation."""
        return f"{PLATFORM}:{self._run_id}:{line}"

    def _press(self, words: list[str], key: str) -> list[Command]:
        button = self.screen.board.button(int(words[0])) if len(words) == 1 else None
        if button is None:
            raise UserError(UNKNOWN_LINE)
        return [Press(chat=self.chat, key=key, data=button.data)]

    async def _handle(self, command: Command) -> Reply:
        """The studio's answer; a bug becomes a logged traceback and an apology with an error id."""
        try:
            return await self.studio.handle(command)
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            log.exception("%s failed (error id %s)", type(command).__name__, error_id)
            return Reply(t("error.internal", self.chat.lang, error_id=error_id), error=True)

    async def _show(self, reply: Reply) -> None:
        if reply.silent:  # a repeated line: the first copy was answered
            return
        style = "red" if reply.error else ""
        self.screen.show(reply.text, reply.buttons, style=style, job_id=reply.job_id)
        if reply.job_id is not None:
            self.job_ids.append(reply.job_id)
            # The console's "message id" of the status line: progress for this job prints under it.
            message_id = f"c{self._lines}"
            await asyncio.to_thread(self.studio.set_status_message, reply.job_id, message_id)
