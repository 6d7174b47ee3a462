"""The canvas's HTTP handlers: the page, a drawing submitted, a job polled, its result.

A drawing goes into the studio as a photo does (``JobDesk.submit_sketch``: the same intake, quotas, pause
and job row), on behalf of the member the request proves (``bots.web.auth``); a request that proves nobody
gets 401 before anything is stored. "Make my face" is a job like any other: its "queued" message is posted in
the member's chat and the result is delivered there. A live preview is a fast job shown in the canvas only.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from bots.web.announce import Announcer
from bots.web.auth import CanvasAuth, Unauthorized
from bots.web.form import BadForm, read_sketch_form
from bots.web.limits import PreviewPace
from core.errors import UserError
from core.imaging.sketch_support import can_draw_faces
from core.messages import LANGUAGES, MESSAGES, normalize_language, t
from core.ports import ChatRef, JobState, JobView
from core.studio.delivery import failure_text, progress_text
from core.studio.jobdesk import Submitted
from core.studio.service import Studio
from core.studio.sketch import parse_strength

log = logging.getLogger(__name__)
T = TypeVar("T")

STATIC = Path(__file__).with_name("static")
ASSETS = {"sketch.js": "text/javascript", "sketch.css": "text/css"}
# Refusals and the HTTP status that says the same to a program.
_STATUS = {
    "intake.too_large": 413,
    "studio.paused": 503,
    "error.busy": 503,
    "sketch.unavailable": 503,
    "banned": 403,
}


def _status_of(key: str) -> int:
    if key.startswith("quota."):
        return 429
    return _STATUS.get(key, 422)


def page_texts() -> dict[str, dict[str, str]]:
    """The page's own words (``web.*``) in every catalogue language; the page picks the member's."""
    return {lang: {k: v for k, v in MESSAGES[lang].items() if k.startswith("web.")} for lang in LANGUAGES}


class Canvas:
    def __init__(self, studio: Studio, announcers: Mapping[str, Announcer]) -> None:
        self.studio = studio
        self.settings = studio.settings
        self.auth = CanvasAuth(self.settings)
        self.announcers = announcers
        web_settings = self.settings.web
        self.pace = PreviewPace(web_settings.preview_interval_s, web_settings.previews_per_hour)
        template = (STATIC / "sketch.html").read_text(encoding="utf-8")
        self._page = template.replace("__TEXTS__", json.dumps(page_texts(), ensure_ascii=False))

    # --- routes ----------------------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.Response:
        body = self._page.replace("__LANG__", self._guess_lang(request))
        return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC / name, headers={"Content-Type": ASSETS[name]})

    async def submit(self, request: web.Request) -> web.Response:
        lang = self._guess_lang(request)
        try:
            form = await read_sketch_form(request, self.settings.intake.max_bytes)
        except UserError as error:
            return self._refusal(error, lang)
        except BadForm as error:
            log.info("canvas form refused: %s", error)
            return _error(400, "web.bad_request", t("web.bad_request", lang))
        try:
            chat = self.auth.chat(form.fields.get("init_data"), form.fields.get("token"))
        except Unauthorized:
            return _error(401, "web.unauthorized", t("web.unauthorized", lang))
        if await self._call(self._banned, chat):
            return _error(403, "banned", t("banned", chat.lang))
        if not can_draw_faces(self.settings.models):
            return self._refusal(UserError("sketch.unavailable"), chat.lang)
        try:  # the chat's rules: one number from 0 to 1, the default when none
            strength = parse_strength(tuple((form.fields.get("strength") or "").split()))
        except UserError as error:
            return self._refusal(error, chat.lang)
        fast = form.fields.get("fast") in ("1", "true", "on")
        if fast and not self.pace.allow((chat.platform, chat.user_id)):
            return _error(429, "web.preview_wait", t("web.preview_wait", chat.lang))
        request_id = form.fields.get("request_id") or uuid.uuid4().hex
        key = f"web:{chat.platform}:{chat.user_id}:{request_id[:64]}"
        try:
            submitted = await self._call(
                self.studio.submit_sketch, chat, form.drawing, strength, fast=fast, update_key=key
            )
        except UserError as error:
            return self._refusal(error, chat.lang)
        if not fast and not submitted.duplicate:  # a preview is for the canvas only
            await self._announce(chat, submitted)
        text = t("web.queued", chat.lang, position=submitted.position)
        return web.json_response(
            {"job_id": submitted.job_id, "position": submitted.position, "message": text}
        )

    async def job(self, request: web.Request) -> web.Response:
        found = await self._own_job(request)
        if isinstance(found, web.Response):
            return found
        job, lang = found, found.chat.lang
        done = job.state is JobState.DONE and job.result_key is not None
        body: dict[str, Any] = {"state": str(job.state), "done": done, "progress": job.progress}
        if job.state is JobState.QUEUED:
            position = await self._call(self.studio.position, job.id)
            body["message"] = t("web.queued", lang, position=position)
        elif job.state is JobState.RUNNING:
            body["message"] = progress_text(job)
        elif done:
            body["message"] = t("web.done", lang)
            body["result"] = f"sketch/jobs/{job.id}/result"
        elif job.state is JobState.CANCELLED and job.error_key is None:
            body["message"] = t("job.cancelled", lang)
        else:
            body["message"] = failure_text(job)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def result(self, request: web.Request) -> web.Response:
        found = await self._own_job(request)
        if isinstance(found, web.Response):
            return found
        if found.state is not JobState.DONE or found.result_key is None:
            raise web.HTTPNotFound()
        png = await self._call(self.studio.blobs.get, found.result_key)
        return web.Response(
            body=png, content_type="image/png", headers={"Cache-Control": "private, no-store"}
        )

    # --- helpers ---------------------------------------------------------------------------------------
    async def _own_job(self, request: web.Request) -> JobView | web.Response:
        lang = self._guess_lang(request)
        try:
            chat = self.auth.from_headers(request.headers)
        except Unauthorized:
            return _error(401, "web.unauthorized", t("web.unauthorized", lang))
        try:
            return await self._call(self.studio.own_job, chat, request.match_info["job_id"])
        except UserError as error:  # someone else's job, or one /forget deleted: the same answer
            return _error(404, error.key, t("job.gone", chat.lang))

    def _banned(self, chat: ChatRef) -> bool:
        admin = self.studio.desk.admin
        return not admin.is_operator(chat) and self.studio.store.is_banned(chat.platform, chat.user_id)

    async def _announce(self, chat: ChatRef, submitted: Submitted) -> None:
        """The chat's "queued" status message; best effort: the job is accepted and its result is delivered
        whether or not this message got through."""
        announcer = self.announcers.get(chat.platform)
        if announcer is None:
            return
        try:
            reply = await self.studio.desk.queued(submitted, chat)
            message_id = await announcer.post(chat, reply)
            await self._call(self.studio.set_status_message, submitted.job_id, message_id)
        except Exception:
            log.warning("job %s: the queued message did not reach the chat", submitted.job_id, exc_info=True)

    def _refusal(self, error: UserError, lang: str) -> web.Response:
        return _error(_status_of(error.key), error.key, error.render(lang))

    def _guess_lang(self, request: web.Request) -> str:
        """Before the member is known: the browser's first language the catalogue has."""
        for tag in request.headers.get("Accept-Language", "").split(","):
            base = tag.split(";")[0].strip().split("-")[0].lower()
            if base in LANGUAGES:
                return base
        return normalize_language(self.settings.default_language)

    async def _call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


def _error(status: int, key: str, message: str) -> web.Response:
    error_id = secrets.token_hex(4) if status >= 500 else None
    body = {"error": key, "message": message} | ({"error_id": error_id} if error_id else {})
    return web.json_response(body, status=status)
