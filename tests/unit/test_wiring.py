"""The composition root: a run on the embedded Redis gets a copy of the settings with its URL, and the
settings it was given stay as they were loaded."""

from __future__ import annotations

from pathlib import Path

import redis

from bots.console import ConsoleResultSender
from bots.wiring import wire
from core.config import Settings
from core.ports import ChatRef
from tests.e2e.offline import photo_bytes


def test_the_embedded_redis_is_wired_into_a_copy_of_the_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.redis_url is None
    wiring = wire(settings, embedded_redis=True)
    try:
        assert settings.redis_url is None  # never changed in place
        assert wiring.settings.redis_url and wiring.embedded is not None
        assert wiring.settings.redis_url == wiring.embedded.url
        chat = ChatRef(platform="console", user_id="u1", chat_id="c1", lang="en")
        submitted = wiring.studio.submit_unmask(chat, photo_bytes())
        # The job went to the embedded server's gpu queue, through Celery.
        assert redis.Redis.from_url(wiring.settings.redis_url).llen("gpu") == 1
        assert wiring.studio.job(submitted.job_id).queue == "gpu"
        deliverer = wiring.deliverer(ConsoleResultSender(tmp_path / "out"))
        assert set(deliverer.senders) == {"console"}
    finally:
        wiring.close()
