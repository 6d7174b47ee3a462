"""Results and progress back to Discord through the real ``Deliverer`` and the real client: through the
interaction token while it lives, through the channel with the bot token after it expired, after a restart,
or when Discord refuses the token; a channel that is gone, or a message Discord refuses for good (a permanent
4xx), makes the job undeliverable; a result over the upload limit is fitted by the helper both platforms
share; a retried delivery sends only the messages that did not arrive."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bots.discord.app import AtelierClient
from bots.upload_fit import fit_upload
from core.blobs import extra_result_key, result_key
from core.config import MB
from core.imaging.intake import human_number
from core.messages import t
from core.ports import ChatRef
from core.studio.delivery import Attachment, Deliverer, progress_text, result_caption
from core.studio.sent_parts import SentParts
from core.studio.service import Studio, bootstrap
from tests.e2e.discord_harness import (
    CHANNEL,
    USER,
    handled,
    logged_in,
    make_settings,
    run,
)
from tests.e2e.discord_shapes import GUILD_ID
from tests.e2e.fake_discord_api import TOKEN, FakeDiscordAPI, Request
from tests.e2e.offline import photo_bytes, refuse_network
from tests.fakes import MemoryQueue


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscordAPI]:
    refuse_network(monkeypatch)
    with FakeDiscordAPI() as fake:
        yield fake


def studio_for(tmp_path: Path, api: FakeDiscordAPI, **discord: Any) -> Studio:
    return bootstrap(make_settings(tmp_path, api.api_url, **discord), queue=MemoryQueue())


def run_closing(studio: Studio, scenario: Callable[[], Any]) -> None:
    """Run ``scenario`` against the fake Discord, then close the studio's store whatever happened."""
    try:
        run(scenario)
    finally:
        studio.store.close()


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


async def submit(
    api: FakeDiscordAPI, client: AtelierClient, command: str = "unmask", **interaction: Any
) -> tuple[str, dict]:
    """Run ``/command`` with a photo; returns the job id and the interaction payload."""
    files = {"photo": api.add_file(photo_bytes())}
    payload = api.slash(
        command, user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID, files=files, **interaction
    )
    await handled(client, payload)
    studio = client.desk.studio
    (job,) = studio.active_jobs(ChatRef("discord", str(USER), str(CHANNEL)))
    return job.id, payload


def finish(studio: Studio, job_id: str, *, sheet: bool = False, result: bytes | None = None) -> None:
    assert studio.store.start_attempt(job_id, 3, owner="w").action.name == "RUN"
    studio.blobs.put(result_key(job_id), result or png())
    if sheet:
        studio.blobs.put(extra_result_key(job_id, "sheet"), png(100, 150))
    studio.store.mark_done(job_id, result_key(job_id), None)


def deliverer(studio: Studio, client: AtelierClient) -> Deliverer:
    return Deliverer(studio.store, studio.blobs, None, {"discord": client.sender})


def webhook_posts(api: FakeDiscordAPI, payload: dict) -> list[Request]:
    return [r for r in api.for_token(payload["token"]) if r.method == "POST" and not r.is_callback()]


def test_progress_edits_the_status_message_through_the_interaction_while_its_token_lives(
    api: FakeDiscordAPI, tmp_path: Path
) -> None:
    studio = studio_for(tmp_path, api)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, payload = await submit(api, client)
            studio.store.start_attempt(job_id, 3, owner="w")
            studio.store.report_progress(job_id, "w", "inpaint", 0.5, lease_s=60)
            await deliverer(studio, client).show_progress(job_id)
            edit = [r for r in api.for_token(payload["token"]) if r.method == "PATCH"][-1]
            assert edit.path.endswith("/messages/@original")
            assert edit.content == progress_text(studio.job(job_id))
            assert edit.custom_ids == [f"job:{USER}:cancel:{job_id}"]
            assert api.to_channel(CHANNEL) == []

    run_closing(studio, scenario)


def test_a_result_within_the_tokens_life_is_a_followup_with_the_png_the_sheet_and_a_try_again_button(
    api: FakeDiscordAPI, tmp_path: Path
) -> None:
    studio = studio_for(tmp_path, api)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, payload = await submit(api, client, "suit")
            finish(studio, job_id, sheet=True)
            assert await deliverer(studio, client).deliver(job_id)
            result, sheet = webhook_posts(api, payload)
            assert [f.filename for f in result.files] == [f"atelier-{job_id}.png"]
            assert result.files[0].data == png()
            assert result.content == f"<@{USER}> {result_caption(studio.job(job_id))}"
            assert result.custom_ids == [f"job:{USER}:retry:{job_id}"]
            assert [f.filename for f in sheet.files] == [f"atelier-{job_id}-sheet.png"]
            final = [r for r in api.for_token(payload["token"]) if r.method == "PATCH"][-1]
            assert final.content == t("job.done", "en") and final.custom_ids == []
            assert api.to_channel(CHANNEL) == []

    run_closing(studio, scenario)


def assert_sent_to_channel(api: FakeDiscordAPI, studio: Studio, job_id: str) -> None:
    """The result went to the channel with the bot token, mentioning the member and replying to the status
    message, and the status message was edited there too."""
    status_id = studio.job(job_id).status_message_id
    (sent,) = [r for r in api.to_channel(CHANNEL) if r.method == "POST"]
    assert sent.auth == f"Bot {TOKEN}"
    assert sent.content.startswith(f"<@{USER}> ")
    assert [str(u) for u in sent.body["allowed_mentions"]["users"]] == [str(USER)]
    assert str(sent.body["message_reference"]["message_id"]) == status_id
    assert [f.filename for f in sent.files] == [f"atelier-{job_id}.png"]
    assert sent.custom_ids == [f"job:{USER}:retry:{job_id}"]
    (edit,) = [r for r in api.to_channel(CHANNEL) if r.method == "PATCH"]
    assert edit.path == f"/channels/{CHANNEL}/messages/{status_id}" and edit.content == t("job.done", "en")


def test_after_the_token_expires_the_result_goes_to_the_channel_with_the_bot_token(
    api: FakeDiscordAPI, tmp_path: Path
) -> None:
    studio = studio_for(tmp_path, api, interaction_token_ttl_s=0)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, payload = await submit(api, client)
            finish(studio, job_id)
            assert await deliverer(studio, client).deliver(job_id)
            assert webhook_posts(api, payload) == []  # the expired token was not even tried
            assert_sent_to_channel(api, studio, job_id)

    run_closing(studio, scenario)


@pytest.mark.parametrize("status", [401, 404])
def test_a_token_discord_refuses_falls_back_to_the_channel(
    api: FakeDiscordAPI, tmp_path: Path, status: int
) -> None:
    studio = studio_for(tmp_path, api)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, payload = await submit(api, client)
            finish(studio, job_id)
            api.expire_token(payload["token"], status)
            assert await deliverer(studio, client).deliver(job_id)
            assert [r.status for r in webhook_posts(api, payload)] == [status]
            assert_sent_to_channel(api, studio, job_id)

    run_closing(studio, scenario)


def test_after_a_restart_results_go_to_the_channel(api: FakeDiscordAPI, tmp_path: Path) -> None:
    studio = studio_for(tmp_path, api)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as before:
            job_id, payload = await submit(api, before)
        finish(studio, job_id)
        async with logged_in(studio.settings, studio) as after:  # a new process knows no interaction
            assert await deliverer(studio, after).deliver(job_id)
        assert webhook_posts(api, payload) == []
        assert_sent_to_channel(api, studio, job_id)

    run_closing(studio, scenario)


@pytest.mark.parametrize("status", [403, 404])
def test_a_channel_that_is_gone_makes_the_job_undeliverable(
    api: FakeDiscordAPI, tmp_path: Path, status: int
) -> None:
    studio = studio_for(tmp_path, api, interaction_token_ttl_s=0)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, _ = await submit(api, client)
            finish(studio, job_id)
            api.lose_channel(CHANNEL, status)
            assert not await deliverer(studio, client).deliver(job_id)
            record = studio.store.delivery(job_id)
            assert record is not None and record.status == "undeliverable"

    run_closing(studio, scenario)


def test_a_failed_job_is_told_in_a_sentence(api: FakeDiscordAPI, tmp_path: Path) -> None:
    studio = studio_for(tmp_path, api)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, payload = await submit(api, client)
            studio.store.start_attempt(job_id, 3, owner="w")
            studio.store.mark_failed(job_id, "job.crashed", {"attempts": 3})
            assert await deliverer(studio, client).deliver(job_id)
            (sent,) = webhook_posts(api, payload)
            assert sent.content == f"<@{USER}> {t('job.crashed', 'en', attempts=3)}" and sent.files == []

    run_closing(studio, scenario)


def test_a_result_over_the_interactions_upload_limit_is_fitted_by_the_shared_helper(
    api: FakeDiscordAPI, tmp_path: Path
) -> None:
    studio = studio_for(tmp_path, api)
    big = photo_bytes(300, 300, fmt="PNG", noise=True)
    limit = len(big) // 2

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, payload = await submit(api, client, attachment_size_limit=limit)
            finish(studio, job_id, result=big)
            assert await deliverer(studio, client).deliver(job_id)
            (sent,) = webhook_posts(api, payload)
            assert [f.filename for f in sent.files] == [f"atelier-{job_id}.jpg"]
            assert sent.files[0].data == fit_upload(big, limit).data and len(sent.files[0].data) <= limit
            note = t("result.upload_reduced", "en", limit_mb=human_number(limit / MB))
            assert sent.content.endswith(note)

    run_closing(studio, scenario)


@pytest.mark.parametrize(
    ("ttl_s", "status", "code", "message"),
    [
        (None, 400, 50035, "Invalid Form Body"),
        (None, 403, 50013, "Missing Permissions"),
        (None, 413, 40005, "Request entity too large"),
        (0, 400, 50035, "Invalid Form Body"),
    ],
    ids=["followup-400", "followup-403", "followup-413", "channel-400"],
)
def test_a_message_discord_refuses_for_good_is_not_retried(
    api: FakeDiscordAPI, tmp_path: Path, ttl_s: int | None, status: int, code: int, message: str
) -> None:
    """A permanent 4xx (not an expired interaction token) gets the same answer every time: the delivery
    ends at once, with the reason, instead of being retried with backoff."""
    settings = {} if ttl_s is None else {"interaction_token_ttl_s": ttl_s}
    studio = studio_for(tmp_path, api, **settings)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, _ = await submit(api, client)
            finish(studio, job_id)
            api.refuse_messages(status, code, message)
            assert not await deliverer(studio, client).deliver(job_id)
            record = studio.store.delivery(job_id)
            assert record is not None and record.status == "undeliverable"
            assert message in (record.last_error or "")
            refused = api.matching(lambda r: r.method == "POST" and r.status == status)
            assert len(refused) == 1

    run_closing(studio, scenario)


def test_a_server_error_is_still_retried(api: FakeDiscordAPI, tmp_path: Path) -> None:
    studio = studio_for(tmp_path, api)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, payload = await submit(api, client)
            finish(studio, job_id)
            api.refuse_messages(500, 0, "Internal Server Error")
            assert await deliverer(studio, client).deliver(job_id)
            assert [r.status for r in webhook_posts(api, payload)] == [500, 200]

    run_closing(studio, scenario)


def test_a_retried_delivery_sends_only_the_messages_that_did_not_arrive(
    api: FakeDiscordAPI, tmp_path: Path
) -> None:
    studio = studio_for(tmp_path, api)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, payload = await submit(api, client, "suit")
            finish(studio, job_id, sheet=True)
            parts = SentParts(["result"])  # an earlier attempt got the result through, then failed
            sheet_png = Attachment("sheet", png(100, 150), "Print at 100%.")
            await client.sender.send_result(studio.job(job_id), png(), "Here.", [sheet_png], parts=parts)
            (sheet,) = webhook_posts(api, payload)
            assert [f.filename for f in sheet.files] == [f"atelier-{job_id}-sheet.png"]
            assert "attachment:sheet" in parts

    run_closing(studio, scenario)


def test_try_again_queues_a_new_job_whose_progress_edits_the_followup_it_was_announced_in(
    api: FakeDiscordAPI, tmp_path: Path
) -> None:
    studio = studio_for(tmp_path, api)

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:
            job_id, payload = await submit(api, client)
            finish(studio, job_id)
            assert await deliverer(studio, client).deliver(job_id)
            (result,) = webhook_posts(api, payload)
            result_message = max(m for m in api.messages if api.messages[m]["attachments"])
            press = api.press(result_message, result.custom_ids[0], user_id=USER, guild_id=GUILD_ID)
            await handled(client, press)
            (queued,) = webhook_posts(api, press)
            assert queued.content == t("job.queued", "en", position=1)
            (retry_id,) = [job.id for job in studio.active_jobs(ChatRef("discord", str(USER), str(CHANNEL)))]
            assert queued.custom_ids == [f"job:{USER}:cancel:{retry_id}"]
            status_id = studio.job(retry_id).status_message_id
            assert status_id is not None and int(status_id) in api.messages
            studio.store.start_attempt(retry_id, 3, owner="w")
            studio.store.report_progress(retry_id, "w", "inpaint", 0.5, lease_s=60)
            await deliverer(studio, client).show_progress(retry_id)
            (edit,) = [r for r in api.for_token(press["token"]) if r.method == "PATCH"]
            assert edit.path.endswith(f"/messages/{status_id}")
            assert edit.content == progress_text(studio.job(retry_id))

    run_closing(studio, scenario)


def test_a_private_answer_goes_to_a_direct_message_once_the_interaction_is_gone(
    api: FakeDiscordAPI, tmp_path: Path
) -> None:
    """A selfie verdict answers a private /train: after the interaction token (a restart, 15 minutes) it goes
    to the member's direct messages, never to the guild channel."""
    studio = studio_for(tmp_path, api)
    member = ChatRef("discord", str(USER), str(CHANNEL))
    studio.identities.accept_consent(member)
    job_id = studio.identities.submit_selfie(member, photo_bytes()).job_id
    assert studio.store.start_attempt(job_id, 3, owner="w").action.name == "RUN"
    notice = {"key": "train.selfie_ok", "params": {"count": 1, "min": 5, "max": 20}}
    studio.store.mark_done(job_id, None, None, {"notice": notice})

    async def scenario() -> None:
        async with logged_in(studio.settings, studio) as client:  # a new process: no interaction known
            assert await deliverer(studio, client).deliver(job_id)
        assert api.to_channel(CHANNEL) == []
        (sent,) = api.to_channel(api.dm_channel_id(USER))
        assert t("train.selfie_ok", "en", count=1, min=5, max=20) in (sent.content or "")

    run_closing(studio, scenario)
