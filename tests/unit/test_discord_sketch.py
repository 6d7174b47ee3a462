"""/sketch on Discord: a drawing attached with a strength becomes one job, seen by the channel; /sketch
without a drawing answers the member alone with a link button to the canvas, signed for them; a server that
cannot draw faces offers no /sketch. The real discord.py client against the local fake Discord API, the real
studio; the job queue records."""

# ruff: noqa: F811  (pytest fixtures imported from the interaction tests and used as arguments)
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import discord
import pytest
from pydantic import SecretStr

from bots.discord.app import build_client
from core.config import ModelSettings, Settings, WebSettings
from core.messages import t
from core.ports import ChatRef
from core.studio.canvas_links import read_canvas_token
from core.studio.service import Studio, bootstrap
from tests.e2e.discord_harness import CHANNEL, USER, callback, edits, handled, logged_in, run
from tests.e2e.discord_shapes import GUILD_ID
from tests.e2e.fake_discord_api import EPHEMERAL, FakeDiscordAPI
from tests.e2e.offline import photo_bytes
from tests.fakes import MemoryQueue
from tests.unit.test_discord_interactions import api, queue  # noqa: F401
from tests.unit.test_discord_interactions import settings as plain_settings  # noqa: F401

PUBLIC = "https://atelier.example.com"
SECRET = "canvas-secret"
LINK_STYLE = 5


@pytest.fixture
def settings(plain_settings: Settings) -> Settings:
    """A server whose models draw faces, with a public address for the canvas."""
    return plain_settings.model_copy(
        update={
            "models": ModelSettings(face_prior="stylegan"),
            "web": WebSettings(public_url=PUBLIC, secret=SecretStr(SECRET)),
        }
    )


@pytest.fixture
def studio(settings: Settings, queue: MemoryQueue) -> Iterator[Studio]:
    studio = bootstrap(settings, queue=queue)
    yield studio
    studio.store.close()


def buttons_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for row in body.get("components") or [] for item in row.get("components", [])]


def test_a_drawing_with_a_strength_becomes_one_job_seen_by_the_channel(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    paper = api.add_file(photo_bytes(color="white", fmt="PNG"), filename="face.png", content_type="image/png")
    payload = api.slash(
        "sketch",
        user_id=USER,
        channel_id=CHANNEL,
        guild_id=GUILD_ID,
        files={"drawing": paper},
        numbers={"strength": 0.8},
    )

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    run(scenario)
    ((job_id, queue_name, kind),) = queue.enqueued
    assert (queue_name, kind) == ("gpu", "sketch")
    assert studio.job(job_id).params["options"]["strength"] == 0.8
    assert not callback(api, payload).flags & EPHEMERAL
    (status,) = edits(api, payload)
    assert status.content == t("job.queued", "en", position=1)


def test_a_drawing_without_a_strength_takes_the_default(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    paper = api.add_file(photo_bytes(color="white", fmt="PNG"), filename="face.png", content_type="image/png")
    payload = api.slash(
        "sketch", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID, files={"drawing": paper}
    )

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    run(scenario)
    ((job_id, _, _),) = queue.enqueued
    assert studio.job(job_id).params["options"]["strength"] == 0.6


def test_sketch_without_a_drawing_answers_the_member_alone_with_a_signed_canvas_link(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    payload = api.slash("sketch", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID, locale="ko")

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    run(scenario)
    assert callback(api, payload).flags & EPHEMERAL  # the link draws as the member: nobody else sees it
    (answer,) = edits(api, payload)
    assert answer.content == f"{t('sketch.canvas', 'ko')}\n{t('sketch.how.discord', 'ko')}"
    (button,) = buttons_of(answer.body)
    assert button["style"] == LINK_STYLE and button["label"] == t("sketch.canvas_button", "ko")
    url = urlsplit(button["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{PUBLIC}/sketch"
    (token,) = parse_qs(url.query)["token"]
    assert read_canvas_token(SECRET, token) == ChatRef("discord", str(USER), str(CHANNEL), "ko")
    assert queue.enqueued == []


def test_without_a_public_address_sketch_only_explains_how_to_attach_a_drawing(
    api: FakeDiscordAPI, settings: Settings, queue: MemoryQueue
) -> None:
    no_public = settings.model_copy(update={"web": settings.web.model_copy(update={"public_url": ""})})
    studio = bootstrap(no_public, queue=queue)
    payload = api.slash("sketch", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID)

    async def scenario() -> None:
        async with logged_in(no_public, studio) as client:
            await handled(client, payload)

    try:
        run(scenario)
    finally:
        studio.store.close()
    (answer,) = edits(api, payload)
    assert answer.content == t("sketch.how.discord") and buttons_of(answer.body) == []


def _slash_commands(settings: Settings, studio: Studio) -> set[str]:
    client = build_client(settings, studio)
    return {command.name for command in client.tree.get_commands(type=discord.AppCommandType.chat_input)}


def test_the_slash_commands_offer_sketch_only_where_the_server_draws_faces(
    settings: Settings, plain_settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    assert "sketch" in _slash_commands(settings, studio)
    offline = bootstrap(plain_settings, queue=queue)  # the offline tier without the face prior
    try:
        assert "sketch" not in _slash_commands(plain_settings, offline)
        assert "tryon" in _slash_commands(plain_settings, offline)
    finally:
        offline.store.close()
