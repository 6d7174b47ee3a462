"""A console front end: results are written to a folder and texts printed. Used by ``atelier demo``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from core.delivery import Attachment
from core.ports import JobView


class ConsoleResultSender:
    platform = "console"

    def __init__(self, out_dir: Path, console: Console | None = None) -> None:
        self.out_dir = out_dir
        self.console = console or Console(stderr=True)
        self.finished: dict[str, asyncio.Event] = {}
        self.results: dict[str, Path] = {}
        self.failures: dict[str, str] = {}

    def finished_event(self, job_id: str) -> asyncio.Event:
        return self.finished.setdefault(job_id, asyncio.Event())

    async def show_progress(self, job: JobView, text: str) -> None:
        self.console.print(f"[dim]{job.id[:8]}[/dim] {text}")

    async def send_result(
        self, job: JobView, result_png: bytes, caption: str, attachments: Sequence[Attachment] = ()
    ) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{job.id}.png"
        path.write_bytes(result_png)
        self.results[job.id] = path
        self.console.print(f"[green]{caption}[/green] → {path}")
        for attachment in attachments:
            extra = self.out_dir / f"{job.id}.{attachment.name}.png"
            extra.write_bytes(attachment.data)
            self.console.print(f"[green]{attachment.caption}[/green] → {extra}")
        self.finished_event(job.id).set()

    async def send_text(self, job: JobView, text: str) -> None:
        self.failures[job.id] = text
        self.console.print(f"[red]{text}[/red]")
        self.finished_event(job.id).set()
