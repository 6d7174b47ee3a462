"""A conversation with the studio through the console front end, so that a test reads like a transcript::

    with Conversation(tmp_path) as chat:
        assert "position 1" in chat.say(f"/unmask {photo}")
        assert chat.press("Cancel") == "Cancelled.\\n"

The studio is the real one (job database, blob store, intake, front desk) with an in-memory queue; ``finish``
plays the worker's part for one job and hands it to the real ``Deliverer``, which prints the result through
the console sender, buttons included.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from types import TracebackType

import numpy as np
from PIL import Image
from rich.console import Console

from bots.chat import ConsoleFrontEnd
from bots.console import ButtonBoard, ConsoleResultSender
from core import identity
from core.blobs import extra_result_key, result_key
from core.config import ModelSettings, Settings, WebSettings
from core.kinds import KINDS
from core.ports import ChatRef, JobView
from core.store import SelfieView
from core.studio.buttons import CHOSEN
from core.studio.commands import Reply
from core.studio.delivery import Deliverer
from core.studio.service import bootstrap
from tests.fakes import MemoryQueue


def jpeg(path: Path, size: int = 256, color: tuple[int, int, int] = (190, 140, 120)) -> Path:
    """A plain photo the intake accepts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path, format="JPEG")
    return path


def png_bytes(size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (90, 120, 150)).save(buffer, format="PNG")
    return buffer.getvalue()


class Conversation:
    def __init__(
        self,
        root: Path,
        *,
        lang: str = "en",
        user: str = "operator",
        models: ModelSettings | None = None,
        web: WebSettings | None = None,
    ) -> None:
        self.settings = Settings(
            data_dir=root / "data", models=models or ModelSettings(), web=web or WebSettings()
        )
        self.settings.train.min_selfies, self.settings.train.max_selfies = 3, 6
        self.queue = MemoryQueue()
        self.studio = bootstrap(self.settings, queue=self.queue)
        self.queue.studio = self.studio
        self.out = io.StringIO()
        console = Console(file=self.out, width=200, color_system=None, highlight=False, soft_wrap=True)
        self.board = ButtonBoard()
        self.front = ConsoleFrontEnd(self.studio, console, self.board, lang=lang, user=user)
        self.sender = ConsoleResultSender(root / "out", console, self.board)
        self.deliverer = Deliverer(self.studio.store, self.studio.blobs, None, {"console": self.sender})
        self.replies: list[Reply] = []
        self._loop = asyncio.new_event_loop()

    # --- talking -------------------------------------------------------------------------------------------
    def say(self, line: str, *, key: str | None = None) -> str:
        """Type ``line``; what the console printed for it."""
        start = len(self.out.getvalue())
        self.replies = self._loop.run_until_complete(self.front.say(line, key=key))
        return self.out.getvalue()[start:]

    def press(self, label: str, *, job_id: str | None = None) -> str:
        """Type the number printed beside the latest button labelled ``label`` (of ``job_id``'s, if given)."""
        return self.say(str(self.number(label, job_id=job_id)))

    def number(self, label: str, *, job_id: str | None = None) -> int:
        matches = [
            number
            for number, button in self.board.numbered()
            if button.label.removeprefix(CHOSEN) == label and (job_id is None or job_id in button.data)
        ]
        assert matches, f"no button {label!r} was printed; printed: {self.board.numbered()}"
        return matches[-1]

    # --- the worker's part ---------------------------------------------------------------------------------
    def finish(self, job_id: str) -> str:
        """Run ``job_id`` as a worker would (its result: a small picture) and deliver it; what was printed."""
        store = self.studio.store
        store.start_attempt(job_id, self.settings.worker.max_attempts, owner="test-worker")
        self.studio.blobs.put(result_key(job_id), png_bytes())
        for name in KINDS[self.studio.job(job_id).kind].extra_results:  # the /suit print sheet
            self.studio.blobs.put(extra_result_key(job_id, name), png_bytes())
        assert store.mark_done(job_id, result_key(job_id), None)
        return self.deliver(job_id)

    def deliver(self, job_id: str) -> str:
        """Hand a job a worker ended to the real ``Deliverer``; what was printed."""
        start = len(self.out.getvalue())
        assert self._loop.run_until_complete(self.deliverer.deliver(job_id))
        return self.out.getvalue()[start:]

    def accept_selfies(self, count: int) -> None:
        """What the selfie worker records for each photo it accepts, for the member speaking now."""
        chat, store = self.chat, self.studio.store
        slug = identity.owner_slug(chat.platform, chat.user_id)
        for index in range(count):
            selfie_id = f"{chat.user_id}s{index}"
            aligned, raw = identity.selfie_key(slug, selfie_id), identity.selfie_key(slug, selfie_id, "raw")
            self.studio.blobs.put(aligned, png_bytes())
            self.studio.blobs.put(raw, png_bytes())
            selfie = SelfieView(
                id=selfie_id,
                aligned_key=aligned,
                raw_key=raw,
                embedding=np.full(128, 0.01 * index, np.float32),
                landmarks=np.zeros((478, 2), np.float32),
                face_px=300,
                sharpness=120.0,
                dhash=2**64 - 1 - index,
            )
            store.add_selfie(chat.platform, chat.user_id, selfie)

    # --- what the studio holds -----------------------------------------------------------------------------
    @property
    def chat(self) -> ChatRef:
        return self.front.chat

    @property
    def last_job(self) -> JobView:
        return self.studio.job(self.front.job_ids[-1])

    def jobs(self, user: str | None = None) -> list[JobView]:
        """Every job of ``user`` (default: the one speaking now), newest first."""
        return self.studio.store.jobs_for_user("console", user or self.chat.user_id, active_only=False)

    def close(self) -> None:
        self._loop.close()
        self.studio.store.close()

    def __enter__(self) -> Conversation:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
