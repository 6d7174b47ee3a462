"""The canvas's HTTP side (bots/web) with aiohttp's test client against a real studio on SQLite: who may
submit, what is stored, what comes back."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from bots.web.app import build_web_app
from core.messages import t
from core.ports import ChatRef, JobState
from core.store import PAUSED
from core.studio.delivery import Deliverer
from core.studio.service import Studio
from tests.unit.test_delivery import RecordingSender
from tests.web.conftest import RecordingAnnouncer, job_rows, link, stored_files
from tests.web.signing import drawing_png, telegram_init_data

DISCORD = ChatRef("discord", "55", "9001", "en")


def run(studio: Studio, scenario: Callable[[TestClient, RecordingAnnouncer], Awaitable[None]]) -> None:
    async def go() -> None:
        announcer = RecordingAnnouncer()
        async with TestClient(TestServer(build_web_app(studio, {"telegram": announcer}))) as client:
            await scenario(client, announcer)

    asyncio.run(go())


def sketch_form(drawing: bytes | None = None, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("drawing", drawing_png() if drawing is None else drawing, filename="d.png")
    for name, value in fields.items():
        form.add_field(name, value)
    return form


def test_the_page_and_its_files_are_served_with_the_members_words(studio: Studio) -> None:
    async def scenario(client: TestClient, _: RecordingAnnouncer) -> None:
        page = await client.get("/sketch", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
        body = await page.text()
        assert page.status == 200 and '<html lang="ko">' in body
        assert t("web.submit", "ko") in body and t("web.submit", "en") in body  # both; the page picks
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert "https://" not in body  # nothing from elsewhere
        script = await client.get("/sketch/static/sketch.js")
        assert script.status == 200 and "pointerdown" in await script.text()
        assert (await client.get("/sketch/static/../app.py")).status == 404

    run(studio, scenario)


def test_a_bad_or_stale_signature_gets_401_and_stores_nothing(studio: Studio) -> None:
    async def scenario(client: TestClient, announcer: RecordingAnnouncer) -> None:
        refused = [
            sketch_form(token=link(DISCORD) + "x"),
            sketch_form(token=link(DISCORD, ttl_s=60, now=time.time() - 120)),
            sketch_form(init_data=telegram_init_data(auth_date=time.time() - 2 * 3600)),
            sketch_form(init_data=telegram_init_data().replace("Ada", "Eve")),
            sketch_form(strength="0.5"),
        ]
        for form in refused:
            response = await client.post("/sketch", data=form)
            assert response.status == 401
            assert (await response.json())["message"] == t("web.unauthorized", "en")
        assert (await client.get("/sketch/jobs/abc")).status == 401
        assert announcer.posted == []

    run(studio, scenario)
    assert job_rows(studio) == 0 and stored_files(studio) == []
    assert studio.queue.enqueued == []  # type: ignore[attr-defined]


def test_an_oversized_drawing_gets_413_with_a_sentence(studio: Studio) -> None:
    limit = studio.settings.intake.max_bytes
    studio.settings.intake.max_bytes = 40_000

    async def scenario(client: TestClient, _: RecordingAnnouncer) -> None:
        huge = b"\x89PNG" + bytes(100_000)
        response = await client.post("/sketch", data=sketch_form(huge, token=link(DISCORD)))
        assert response.status == 413
        body = await response.json()
        assert body["error"] == "intake.too_large" and "MB" in body["message"]
        # Sent in chunks with no length announced, it is cut off as soon as it passes the limit.
        boundary = "b0undary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="token"\r\n\r\n{link(DISCORD)}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="drawing"; filename="d.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()

        async def stream() -> AsyncIterator[bytes]:
            yield head
            for start in range(0, len(huge), 8192):
                yield huge[start : start + 8192]
            yield f"\r\n--{boundary}--\r\n".encode()

        content_type = f"multipart/form-data; boundary={boundary}"
        response = await client.post("/sketch", data=stream(), headers={"Content-Type": content_type})
        assert response.status == 413

    try:
        run(studio, scenario)
    finally:
        studio.settings.intake.max_bytes = limit
    assert job_rows(studio) == 0 and stored_files(studio) == []


def test_a_good_submit_stores_the_drawing_and_strength_and_announces_it_in_the_chat(studio: Studio) -> None:
    drawing = drawing_png()

    async def scenario(client: TestClient, announcer: RecordingAnnouncer) -> None:
        form = sketch_form(drawing, init_data=telegram_init_data(777, lang="ko"), strength="0.35")
        response = await client.post("/sketch", data=form)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["message"] == t("web.queued", "ko", position=1)
        job = studio.job(body["job_id"])
        assert job.kind == "sketch" and job.state is JobState.QUEUED
        assert job.chat == ChatRef("telegram", "777", "777", "ko")
        assert job.params["options"] == {"strength": 0.35, "fast": False}
        with Image.open(io.BytesIO(studio.blobs.get(job.input_key))) as stored:
            assert stored.size == (256, 256) and stored.convert("L").getextrema() == (0, 255)
        # The chat got the same "queued" message a photo's job gets, and it became the status message.
        ((chat, reply),) = announcer.posted
        assert chat == job.chat and reply.text == t("job.queued", "ko", position=1) and reply.job_id == job.id
        assert studio.job(job.id).status_message_id == "1001"
        # Polled with the same proof: queued, then (once a worker finished it) done with the face.
        headers = {"X-Telegram-Init-Data": telegram_init_data(777, lang="ko")}
        polled = await (await client.get(f"/sketch/jobs/{job.id}", headers=headers)).json()
        assert polled["state"] == "queued" and not polled["done"]
        _finish(studio, job.id)
        polled = await (await client.get(f"/sketch/jobs/{job.id}", headers=headers)).json()
        assert polled["done"] and polled["message"] == t("web.done", "ko")
        face = await client.get("/" + polled["result"], headers=headers)
        assert face.status == 200 and face.content_type == "image/png"
        # Nobody else sees it.
        other = {"X-Telegram-Init-Data": telegram_init_data(778)}
        assert (await client.get(f"/sketch/jobs/{job.id}", headers=other)).status == 404
        assert (await client.get("/" + polled["result"], headers=other)).status == 404

    run(studio, scenario)
    assert studio.queue.kinds() == ["sketch"]  # type: ignore[attr-defined]


def test_a_retried_request_makes_one_job(studio: Studio) -> None:
    async def scenario(client: TestClient, announcer: RecordingAnnouncer) -> None:
        first = await client.post("/sketch", data=sketch_form(token=link(DISCORD), request_id="r1"))
        again = await client.post("/sketch", data=sketch_form(token=link(DISCORD), request_id="r1"))
        assert (await first.json())["job_id"] == (await again.json())["job_id"]

    run(studio, scenario)
    assert job_rows(studio) == 1


def test_a_preview_stays_out_of_the_chat_and_is_paced(studio: Studio) -> None:
    async def scenario(client: TestClient, announcer: RecordingAnnouncer) -> None:
        init_data = telegram_init_data(777)
        first = await client.post("/sketch", data=sketch_form(init_data=init_data, fast="1"))
        assert first.status == 200
        job_id = (await first.json())["job_id"]
        assert studio.job(job_id).params["options"]["fast"] is True
        again = await client.post("/sketch", data=sketch_form(init_data=init_data, fast="1"))
        assert again.status == 429 and (await again.json())["error"] == "web.preview_wait"
        assert announcer.posted == []
        _finish(studio, job_id)
        # Finished, it is not for the chat: the Deliverer takes it off the list without sending anything.
        sender = RecordingSender()
        deliverer = Deliverer(studio.store, studio.blobs, None, {"telegram": sender})
        assert await deliverer.deliver(job_id) is False
        assert sender.calls == 0 and sender.progress == [] and studio.store.undelivered(["telegram"]) == []
        assert studio.job(job_id).state is JobState.DONE  # and the canvas still reads its result

    run(studio, scenario)


def test_studio_refusals_come_back_as_json_in_the_members_language(studio: Studio) -> None:
    async def scenario(client: TestClient, _: RecordingAnnouncer) -> None:
        ko = telegram_init_data(777, lang="ko")
        studio.store.set_switch(PAUSED, True, "telegram:1")
        paused = await client.post("/sketch", data=sketch_form(init_data=ko))
        assert paused.status == 503
        assert (await paused.json())["message"] == t("studio.paused", "ko")
        studio.store.set_switch(PAUSED, False, "telegram:1")
        not_png = await client.post("/sketch", data=sketch_form(b"not an image at all", init_data=ko))
        assert not_png.status == 422
        assert await not_png.json() == {"error": "intake.not_image", "message": t("intake.not_image", "ko")}
        strong = await client.post("/sketch", data=sketch_form(init_data=ko, strength="3"))
        assert strong.status == 422 and (await strong.json())["error"] == "sketch.bad_strength"

    run(studio, scenario)
    assert job_rows(studio) == 0


def _finish(studio: Studio, job_id: str) -> None:
    """What a worker does: start, write a result, mark done."""
    from core.blobs import result_key

    studio.store.start_attempt(job_id, 3, owner="test")
    studio.blobs.put(result_key(job_id), drawing_png(64))
    assert studio.store.mark_done(job_id, result_key(job_id), None)
