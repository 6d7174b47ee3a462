"""End to end on Discord: the real bot process (gateway connection and REST) and a real Celery worker
(offline tier) on the real Redis, a SQLite database in a temp dir, and the local fake Discord API and
gateway standing in for Discord."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from core.messages import t
from core.store import migrate
from tests.e2e.discord_shapes import GUILD_ID
from tests.e2e.discord_stack import discord_env, start_discord_bot
from tests.e2e.fake_discord_api import FakeDiscordAPI, Request
from tests.e2e.stack import claimed_redis_db, png_size, start_worker, stop

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

RESULT_TIMEOUT_S = 240.0  # a cold offline-tier worker loads its models on the first job
MASKED_PHOTO = "wm_005.jpg"
USER, CHANNEL = 612345678901234567, 623456789012345678


@dataclass
class Stack:
    api: FakeDiscordAPI
    bot: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    logs: Path

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
            for path in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("discord-e2e")
    with claimed_redis_db() as redis_url, FakeDiscordAPI() as api:
        env = discord_env(api, work, redis_url, GUILD_ID)
        migrate(env["ATELIER_DATABASE_URL"])  # once, before two processes would both try
        worker = start_worker(env, work / "worker.log")
        bot = start_discord_bot(env, work / "bot.log")
        try:
            if not api.gateway.identified.wait(60):
                raise AssertionError(
                    "the bot never connected to the gateway\n" + Stack(api, bot, worker, work).log_tail()
                )
            yield Stack(api, bot, worker, work)
        finally:
            code = stop(bot)
            stop(worker, timeout_s=30)
        log = (work / "bot.log").read_text(errors="replace")
        assert code == 0, log[-3000:]
        assert "heavy modules: []" in log, log[-3000:]


def test_the_bot_identifies_without_privileged_intents_and_syncs_its_guild_commands(stack: Stack) -> None:
    assert stack.api.gateway.identify is not None
    assert stack.api.gateway.identify["intents"] == 1  # guilds only
    assert GUILD_ID in stack.api.commands and None not in stack.api.commands


def test_a_masked_photo_is_queued_and_comes_back_as_an_attachment_with_a_try_again_button(
    stack: Stack, shared_data: Path
) -> None:
    api = stack.api
    data = (shared_data / "faces" / "with_mask" / MASKED_PHOTO).read_bytes()
    with Image.open(io.BytesIO(data)) as original:
        size = original.size
    photo = api.add_file(data, filename=MASKED_PHOTO)
    payload = api.slash("unmask", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID, files={"photo": photo})
    api.gateway.push_interaction(payload)

    def under_token(method: str) -> Request:
        found = [r for r in api.for_token(payload["token"]) if r.method == method and not r.is_callback()]
        return found[0]

    queued = api.wait_for(
        lambda r: r.method == "PATCH" and payload["token"] in r.path and r.content.startswith("Queued"),
        timeout=30,
    )[0]
    assert queued.content == t("job.queued", "en", position=1)
    try:
        api.wait_for(
            lambda r: payload["token"] in r.path and r.method == "POST" and bool(r.files),
            timeout=RESULT_TIMEOUT_S,
        )
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{stack.log_tail()}") from None
    result = under_token("POST")
    (file,) = result.files
    assert file.filename.endswith(".png") and png_size(file.data) == size
    job_id = file.filename.removeprefix("atelier-").removesuffix(".png")
    assert result.custom_ids == [f"job:{USER}:retry:{job_id}"]
    assert result.content.startswith(f"<@{USER}> ")
    api.wait_for(
        lambda r: r.method == "PATCH" and payload["token"] in r.path and r.content == t("job.done", "en"),
        timeout=10,
    )
