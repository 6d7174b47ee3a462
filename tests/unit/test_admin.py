"""/admin for the operators named in the settings: refused to everyone else, queues and the pause, a user's
jobs, bans that are told once and then ignore the user (the real studio, store and intake; an in-memory
queue)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from core.config import Settings, StudioSettings
from core.messages import t
from core.ports import ChatRef, JobState
from core.studio import commands
from core.studio.commands import Reply, Upload
from core.studio.service import Studio, bootstrap
from tests.fakes import MemoryQueue

OPERATOR = ChatRef(platform="telegram", user_id="1", chat_id="1", lang="en")
USER = ChatRef(platform="telegram", user_id="5", chat_id="50", lang="ko")
OTHER = ChatRef(platform="telegram", user_id="6", chat_id="60", lang="en")


def photo_upload() -> Upload:
    buffer = io.BytesIO()
    Image.new("RGB", (128, 128), (200, 150, 120)).save(buffer, format="JPEG")
    data = buffer.getvalue()

    async def fetch(max_bytes: int) -> bytes:
        return data

    return Upload(fetch=fetch, size=len(data), content_type="image/jpeg")


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    settings = Settings(data_dir=tmp_path / "data", studio=StudioSettings(operators=["telegram:1"]))
    studio = bootstrap(settings, queue=MemoryQueue())
    yield studio
    studio.store.close()


def say(studio: Studio, command: commands.Command) -> Reply:
    return asyncio.run(studio.handle(command))


def admin(studio: Studio, *words: str, chat: ChatRef = OPERATOR) -> Reply:
    return say(studio, commands.Admin(chat=chat, words=words))


def unmask(studio: Studio, chat: ChatRef) -> Reply:
    return say(studio, commands.Unmask(chat=chat, photo=photo_upload()))


def test_admin_is_refused_to_everyone_but_the_operators(studio: Studio) -> None:
    for words in [(), ("pause",), ("ban", "1")]:
        reply = admin(studio, *words, chat=USER)
        assert reply.error and reply.text == t("admin.refused", "ko")
    assert not studio.store.switch("paused")
    # The same user id on another platform is somebody else.
    assert admin(studio, chat=ChatRef(platform="discord", user_id="1", chat_id="1")).error


def test_status_shows_the_queues_and_whether_the_studio_is_paused(studio: Studio) -> None:
    assert admin(studio).text == t(
        "admin.status",
        state=t("admin.state.open"),
        workers=t("admin.workers_unknown"),
        queues=t("admin.no_queues"),
    )
    unmask(studio, USER)
    unmask(studio, OTHER)
    assert "gpu: 2 queued, 0 running" in admin(studio, "status").text
    assert admin(studio, "nonsense").text == t("admin.usage")


def test_pause_refuses_new_jobs_until_resume(studio: Studio) -> None:
    assert not unmask(studio, USER).error
    assert admin(studio, "pause").text == t("admin.paused")
    refused = unmask(studio, OTHER)
    assert refused.error and refused.text == t("studio.paused")
    assert t("admin.state.paused") in admin(studio).text
    queued = studio.store.jobs_for_user("telegram", "5")
    assert [job.state for job in queued] == [JobState.QUEUED]  # what was queued goes on
    assert admin(studio, "resume").text == t("admin.resumed")
    assert not unmask(studio, OTHER).error


def test_a_banned_user_is_told_once_then_ignored_until_unbanned(studio: Studio) -> None:
    assert admin(studio, "ban", "5", "spam").text == t("admin.banned", user="telegram:5")
    assert admin(studio, "ban", "telegram:5").text == t("admin.already_banned", user="telegram:5")
    notice = unmask(studio, USER)
    assert notice.error and notice.text == t("banned", "ko")
    assert unmask(studio, USER).silent and say(studio, commands.Help(chat=USER)).silent
    assert studio.store.jobs_for_user("telegram", "5") == []
    assert not unmask(studio, OTHER).error  # nobody else is affected
    assert admin(studio, "unban", "5").text == t("admin.unbanned", user="telegram:5")
    assert not unmask(studio, USER).error
    assert admin(studio, "unban", "5").text == t("admin.not_banned", user="telegram:5")


def test_an_operator_cannot_be_banned_and_a_user_must_be_named(studio: Studio) -> None:
    assert admin(studio, "ban", "1").text == t("admin.not_an_operator", user="telegram:1")
    reply = admin(studio, "ban")
    assert reply.error and reply.text == t("admin.no_user", action="ban")


def test_a_users_jobs_newest_first(studio: Studio) -> None:
    assert admin(studio, "jobs", "5").text == t("admin.no_jobs", user="telegram:5")
    unmask(studio, USER)
    studio.cancel(studio.store.jobs_for_user("telegram", "5")[0].id)
    unmask(studio, USER)
    lines = admin(studio, "jobs", "telegram:5").text.splitlines()
    assert lines[0] == t("admin.jobs", user="telegram:5", lines="").strip()
    assert [line.split()[3] for line in lines[1:]] == ["queued", "cancelled"]
