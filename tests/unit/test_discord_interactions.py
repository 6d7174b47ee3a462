"""Slash commands and button presses through the real discord.py client: interactions arrive as gateway
payloads, every request the bot makes goes over HTTP to the local fake Discord API, and the studio is the
real one (SQLite in a temp dir) with a recording job queue."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.messages import t
from core.ports import JobState
from core.studio.delivery import Deliverer
from core.studio.service import Studio, bootstrap
from tests.e2e.discord_harness import (
    CHANNEL,
    OTHER_USER,
    USER,
    assert_refused_privately,
    callback,
    edits,
    followups,
    handled,
    logged_in,
    make_settings,
    original_message_id,
    run,
    unmask_payload,
)
from tests.e2e.discord_shapes import GUILD_ID
from tests.e2e.fake_discord_api import EPHEMERAL, FakeDiscordAPI
from tests.e2e.offline import photo_bytes, refuse_network
from tests.fakes import MemoryQueue

DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE = 5, 6


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


@pytest.mark.parametrize("guild_id", [GUILD_ID, None], ids=["guild", "dm"])
def test_unmask_is_deferred_then_queued_with_a_cancel_button_on_the_status_message(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue, guild_id: int | None
) -> None:
    payload = unmask_payload(api, guild_id=guild_id)

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)
            store = client._connection._view_store
            assert not store._views and not store._synced_message_views  # presses come to on_interaction

    run(scenario)
    ack = callback(api, payload)
    assert ack.body["type"] == DEFERRED_CHANNEL_MESSAGE and not ack.flags & EPHEMERAL
    (edit,) = edits(api, payload)
    assert edit.path.endswith("/messages/@original")
    assert edit.content == t("job.queued", "en", position=1)
    ((job_id, queue_name, kind),) = queue.enqueued
    assert (queue_name, kind) == ("gpu", "unmask")
    assert edit.custom_ids == [f"job:{USER}:cancel:{job_id}"]
    job = studio.job(job_id)
    assert (
        job.chat.platform == "discord" and job.chat.user_id == str(USER) and job.chat.chat_id == str(CHANNEL)
    )
    assert job.status_message_id == str(original_message_id(api, payload))


def test_a_redelivered_interaction_makes_no_second_job(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    payload = unmask_payload(api)
    again = api.redeliver(payload)

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)
            await handled(client, again)

    run(scenario)
    assert len(queue.enqueued) == 1
    assert [r.method for r in api.for_token(again["token"]) if not r.is_callback()] == ["DELETE"]


def test_an_attachment_announced_over_the_interactions_limit_is_refused_without_downloading(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    photo = api.add_file(photo_bytes(), declared_size=3 * 1024 * 1024)
    payload = api.slash(
        "unmask",
        user_id=USER,
        channel_id=CHANNEL,
        guild_id=GUILD_ID,
        files={"photo": photo},
        attachment_size_limit=1024 * 1024,
    )

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    run(scenario)
    assert_refused_privately(api, payload, t("intake.too_large", "en", size_mb=3, limit_mb=1))
    assert api.downloads == [] and queue.enqueued == []


def test_an_attachment_announced_over_our_own_cap_is_refused_without_downloading(
    api: FakeDiscordAPI, tmp_path: Path, queue: MemoryQueue
) -> None:
    settings = make_settings(tmp_path, api.api_url, max_download_bytes=100_000)
    studio = bootstrap(settings, queue=queue)
    photo = api.add_file(photo_bytes(), declared_size=200_000)
    payload = api.slash("unmask", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID, files={"photo": photo})

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    try:
        run(scenario)
    finally:
        studio.store.close()
    assert_refused_privately(api, payload, "the limit is 0.1 MB")
    assert api.downloads == [] and queue.enqueued == []


def test_an_attachment_that_lies_about_its_size_is_cut_off_during_the_download(
    api: FakeDiscordAPI, tmp_path: Path, queue: MemoryQueue
) -> None:
    settings = make_settings(tmp_path, api.api_url, max_download_bytes=100_000)
    studio = bootstrap(settings, queue=queue)
    big = photo_bytes(600, 600, fmt="PNG", noise=True)
    assert len(big) > 300_000
    payload = unmask_payload(api, big, declared_size=50_000)

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    try:
        run(scenario)
    finally:
        studio.store.close()
    assert len(api.downloads) == 1  # started, then abandoned at the cap
    assert_refused_privately(api, payload, "the limit is 0.1 MB")
    assert queue.enqueued == []


def test_personal_commands_are_answered_privately_in_the_members_language(
    api: FakeDiscordAPI, settings: Settings, studio: Studio
) -> None:
    payload = api.slash("status", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID, locale="ko")

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    run(scenario)
    assert callback(api, payload).flags & EPHEMERAL
    (edit,) = edits(api, payload)
    assert t("status.idle", "ko") in edit.content


def test_a_suit_command_carries_its_choices_and_its_example(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    files = {"photo": api.add_file(photo_bytes()), "example": api.add_file(photo_bytes(color="navy"))}
    strings = {"style": "charcoal", "look": "no-tie", "background": "grey", "format": "us-2x2in"}
    payload = api.slash(
        "suit", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID, strings=strings, files=files
    )

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)

    run(scenario)
    ((job_id, _, kind),) = queue.enqueued
    options = studio.job(job_id).params["options"]
    assert kind == "suit" and len(api.downloads) == 2
    assert (options["style"], options["tie"], options["background"], options["format"]) == (
        "charcoal",
        False,
        "grey",
        "us-2x2in",
    )
    assert "exemplar" in studio.job(job_id).params["inputs"]


def test_someone_elses_button_is_refused_privately_and_changes_nothing(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    payload = unmask_payload(api)

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)
            (cancel,) = edits(api, payload)[0].custom_ids
            stranger = api.press(
                original_message_id(api, payload), cancel, user_id=OTHER_USER, guild_id=GUILD_ID
            )
            await handled(client, stranger)
            ack = callback(api, stranger)
            assert ack.body["type"] == DEFERRED_UPDATE
            (refusal,) = followups(api, stranger)
            assert refusal.flags & EPHEMERAL and refusal.content == t("button.not_yours", "en")
            assert edits(api, stranger) == []
            owner = api.press(original_message_id(api, payload), cancel, user_id=USER, guild_id=GUILD_ID)
            await handled(client, owner)
            (edit,) = edits(api, owner)
            assert edit.path.endswith("/@original") and edit.content == t("job.cancelled", "en")

    run(scenario)
    ((job_id, _, _),) = queue.enqueued
    assert studio.job(job_id).state is JobState.CANCELLED


def test_training_asks_consent_the_answer_edits_the_question_then_selfies_come_as_attachments(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    payload = api.slash("train", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID)

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)
            (question,) = edits(api, payload)
            assert question.content == t("train.consent", "en")
            agree = next(data for data in question.custom_ids if data.endswith(":agree"))
            press = api.press(original_message_id(api, payload), agree, user_id=USER, guild_id=GUILD_ID)
            await handled(client, press)
            (answer,) = edits(api, press)
            assert answer.path.endswith("/@original") and "selfie" in answer.content
            files = {"photo": api.add_file(photo_bytes()), "photo3": api.add_file(photo_bytes(color="navy"))}
            selfies = api.slash("train", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID, files=files)
            await handled(client, selfies)
            (checking,) = edits(api, selfies)
            assert checking.content == t("train.checking", "en", count=2)
            # Selfies are nobody else's business: the command and its verdicts stay with the member.
            assert callback(api, payload).flags & EPHEMERAL and callback(api, selfies).flags & EPHEMERAL
            first = queue.enqueued[0][0]
            assert studio.store.start_attempt(first, 3, owner="w").action.name == "RUN"
            notice = {"notice": {"key": "train.selfie_ok", "params": {"count": 1, "min": 5, "max": 20}}}
            studio.store.mark_done(first, None, None, notice)
            deliverer = Deliverer(studio.store, studio.blobs, None, {"discord": client.sender})
            assert await deliverer.deliver(first)
            (verdict,) = followups(api, selfies)
            assert (
                verdict.flags & EPHEMERAL
                and t("train.selfie_ok", "en", count=1, min=5, max=20) in verdict.content
            )
            assert api.to_channel(CHANNEL) == []

    run(scenario)
    assert [kind for _, _, kind in queue.enqueued] == ["selfie", "selfie"]


def test_an_unexpected_failure_is_logged_with_an_id_and_the_member_gets_that_id_privately(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(command: object) -> object:
        raise RuntimeError("database on fire")

    studio.handle = broken  # type: ignore[method-assign,assignment]
    payload = api.slash("status", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID)
    public = api.slash("done", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID)

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)
            await handled(client, public)

    with caplog.at_level(logging.ERROR, logger="bots.discord"):
        run(scenario)
    ids = re.findall(r"error id ([0-9a-f]{8})", caplog.text)
    assert len(ids) == 2 and "database on fire" in caplog.text
    (private_edit,) = edits(api, payload)  # deferred ephemerally: the answer replaces the "thinking"
    assert private_edit.content == t("error.internal", "en", error_id=ids[0])
    assert_refused_privately(api, public, t("error.internal", "en", error_id=ids[1]))
