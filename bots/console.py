"""The console as a chat platform's output side: texts printed, buttons printed with numbers to type, results
written to a folder. Used by ``atelier chat`` and ``atelier demo``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from core.ports import JobState, JobView
from core.studio.commands import Button, Buttons
from core.studio.delivery import Attachment
from core.studio.sent_parts import SentParts


class ButtonBoard:
    """Every button printed so far, numbered for typing: ``3`` presses the button printed as ``[3]``.

    A button keeps its number for as long as its data stays the same, so a progress line that prints a job's
    Cancel button again, between a question and its answer, renumbers nothing: the number typed is always
    the one the operator read. Shared by the front end (questions) and the result sender (Cancel, Try again).
    """

    def __init__(self) -> None:
        self._buttons: list[Button] = []
        self._numbers: dict[str, int] = {}

    def number(self, button: Button) -> int:
        number = self._numbers.get(button.data)
        if number is None:
            self._buttons.append(button)
            number = self._numbers[button.data] = len(self._buttons)
        else:  # the same data may come back with a new label ("Use my model: on" -> "off")
            self._buttons[number - 1] = button
        return number

    def button(self, number: int) -> Button | None:
        return self._buttons[number - 1] if 1 <= number <= len(self._buttons) else None

    def numbered(self) -> list[tuple[int, Button]]:
        return list(enumerate(self._buttons, start=1))


class ConsoleScreen:
    """One way to print a chat message on the console: the text (red for an error), then its buttons, one
    line per row: ``[1] I agree  [2] No, thanks``."""

    def __init__(self, console: Console, board: ButtonBoard) -> None:
        self.console = console
        self.board = board

    def show(self, text: str, buttons: Buttons = (), *, style: str = "", job_id: str | None = None) -> None:
        line = Text()
        if job_id is not None:
            line.append(f"{job_id[:8]} ", style="dim")
        line.append(text, style=style)
        self.console.print(line)
        self.show_buttons(buttons)

    def show_buttons(self, buttons: Buttons) -> None:
        for row in buttons:
            labels = "  ".join(self._label(button) for button in row)
            self.console.print(Text(labels, style="bold"))

    def _label(self, button: Button) -> str:
        """A button to press by its number, or a link printed whole (a terminal opens it on a click)."""
        if button.is_link:
            return f"{button.label}: {button.url or button.app_url}"
        return f"[{self.board.number(button)}] {button.label}"


class ConsoleResultSender:
    """The ``ResultSender`` of the ``console`` platform."""

    platform = "console"

    def __init__(
        self, out_dir: Path, console: Console | None = None, board: ButtonBoard | None = None
    ) -> None:
        self.out_dir = out_dir
        self.screen = ConsoleScreen(console or Console(stderr=True), board or ButtonBoard())
        self.finished: dict[str, asyncio.Event] = {}
        self.results: dict[str, Path] = {}
        self.texts: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        # The buttons last printed under each job's progress: a progress line repeats them only on change.
        self._progress_buttons: dict[str, Buttons] = {}

    def finished_event(self, job_id: str) -> asyncio.Event:
        return self.finished.setdefault(job_id, asyncio.Event())

    async def show_progress(self, job: JobView, text: str, buttons: Buttons = ()) -> None:
        self.screen.show(text, style="dim", job_id=job.id)
        if buttons and self._progress_buttons.get(job.id) != buttons:
            self.screen.show_buttons(buttons)
        self._progress_buttons[job.id] = buttons

    async def send_result(
        self,
        job: JobView,
        result_png: bytes,
        caption: str,
        attachments: Sequence[Attachment] = (),
        buttons: Buttons = (),
        parts: SentParts | None = None,  # local files and lines: nothing that fails half-way to resume
    ) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{job.id}.png"
        path.write_bytes(result_png)
        self.results[job.id] = path
        self.screen.show(f"{caption} → {path}", style="green", job_id=job.id)
        for attachment in attachments:
            extra = self.out_dir / f"{job.id}.{attachment.name}.png"
            extra.write_bytes(attachment.data)
            self.screen.show(f"{attachment.caption} → {extra}", style="green", job_id=job.id)
        self.screen.show_buttons(buttons)
        self.finished_event(job.id).set()

    async def send_text(self, job: JobView, text: str, parts: SentParts | None = None) -> None:
        failed = job.state is JobState.FAILED
        self.texts[job.id] = text
        if failed:
            self.failures[job.id] = text
        self.screen.show(text, style="red" if failed else "", job_id=job.id)
        self.finished_event(job.id).set()
