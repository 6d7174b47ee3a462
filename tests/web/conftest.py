"""A studio for the canvas's tests: tiny tier (it can draw faces), photo checks in the test's own process, an
in-memory queue, and a Telegram token and link secret to sign with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from core.config import Settings
from core.ports import ChatRef
from core.studio.canvas_links import make_canvas_token
from core.studio.commands import Reply
from core.studio.service import Studio, bootstrap
from tests.fakes import MemoryQueue
from tests.web.signing import BOT_TOKEN

LINK_SECRET = "canvas-link-secret-for-tests"


def canvas_settings(tmp_path: Path, **web: object) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'jobs.db'}")
    settings.models.tier = "tiny"
    settings.intake.workers = 0
    settings.telegram.token = SecretStr(BOT_TOKEN)
    settings.web.secret = SecretStr(LINK_SECRET)
    for name, value in web.items():
        setattr(settings.web, name, value)
    return settings


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    studio = bootstrap(canvas_settings(tmp_path), queue=MemoryQueue())
    try:
        yield studio
    finally:
        studio.store.close()


def link(chat: ChatRef, ttl_s: int = 600, now: float | None = None) -> str:
    return make_canvas_token(LINK_SECRET, chat, ttl_s, now)


def job_rows(studio: Studio) -> int:
    with studio.store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM jobs")).scalar_one())


def stored_files(studio: Studio) -> list[Path]:
    root = studio.settings.blob_dir
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


class RecordingAnnouncer:
    """Stands in for the platform: what the canvas posted in the chat."""

    platform = "telegram"

    def __init__(self) -> None:
        self.posted: list[tuple[ChatRef, Reply]] = []

    async def post(self, chat: ChatRef, reply: Reply) -> str:
        self.posted.append((chat, reply))
        return str(1000 + len(self.posted))
