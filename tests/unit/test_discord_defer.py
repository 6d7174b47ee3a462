"""Discord wants every interaction acknowledged within 3 seconds: the defer is the first thing the bot
sends, before the studio, its database, Redis or an attachment download is touched, also when those are
slow. Orderings are read from one clock: the fake server stamps each request as it arrives, the watched
studio each call as it starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.studio.service import Studio, bootstrap
from tests.e2e.discord_harness import (
    CHANNEL,
    USER,
    CallLog,
    callback,
    edits,
    feed,
    handled,
    logged_in,
    make_settings,
    run,
    settle,
    unmask_payload,
    watch_studio,
)
from tests.e2e.discord_shapes import GUILD_ID
from tests.e2e.fake_discord_api import FakeDiscordAPI
from tests.e2e.offline import refuse_network
from tests.fakes import MemoryQueue


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscordAPI]:
    refuse_network(monkeypatch)
    with FakeDiscordAPI() as fake:
        yield fake


@pytest.fixture
def settings(tmp_path: Path, api: FakeDiscordAPI) -> Settings:
    return make_settings(tmp_path, api.api_url)


@pytest.fixture
def queue() -> MemoryQueue:
    return MemoryQueue()


@pytest.fixture
def studio(settings: Settings, queue: MemoryQueue) -> Iterator[Studio]:
    studio = bootstrap(settings, queue=queue)
    yield studio
    studio.store.close()


def test_the_defer_reaches_discord_before_any_studio_call_or_download(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    calls = CallLog()
    watch_studio(studio, calls)
    payload = unmask_payload(api)

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    run(scenario)
    ack = callback(api, payload)
    ((_, downloaded_at),) = api.downloads
    assert ack.at < calls.first() and ack.at < downloaded_at
    assert [name for name, _ in calls.calls][0] == "studio.handle"
    assert len(queue.enqueued) == 1


@pytest.mark.parametrize("command", ["unmask", "status"])
def test_the_defer_comes_first_even_when_the_database_and_the_broker_are_slow(
    api: FakeDiscordAPI, settings: Settings, tmp_path: Path, command: str
) -> None:
    queue = MemoryQueue(delay_s=0.5)  # a broker that answers slowly
    studio = bootstrap(settings, queue=queue)
    calls = CallLog()
    watch_studio(studio, calls, delay_s=0.3)  # and a slow studio/database
    if command == "unmask":
        payload = unmask_payload(api)
    else:
        payload = api.slash(command, user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID)

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    try:
        run(scenario)
    finally:
        studio.store.close()
    ack = callback(api, payload)
    assert all(ack.at < at for _, at in calls.calls)
    assert all(ack.at < at for _, at in api.downloads)
    assert edits(api, payload), "the answer never came"


def test_an_interaction_discord_no_longer_takes_does_no_work(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    calls = CallLog()
    watch_studio(studio, calls)
    payload = unmask_payload(api)
    api.expire_token(payload["token"])

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            feed(client, payload)
            await settle()

    run(scenario)
    assert calls.calls == [] and api.downloads == [] and queue.enqueued == []
