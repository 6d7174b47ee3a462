"""A local fake of Discord's REST API (and, through ``FakeGateway``, its gateway), served over real HTTP on
127.0.0.1 from a thread of its own.

discord.py talks to it as to Discord once ``discord.http.Route.BASE`` points at ``{url}/api/v10``: the bot's
login (``users/@me``, ``oauth2/applications/@me``), command sync, interaction callbacks, webhook edits and
followups under the interaction token, and channel messages under the bot token. Attachments are served
from ``{url}/cdn/...`` as Discord's CDN serves them. Every request is recorded with the time it arrived;
tests inject interactions built here (their tokens are known to the fake), wait for what the bot sent and
switch on failures: an expired interaction token, a channel the bot lost access to, a message refused.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.e2e import discord_shapes as shapes
from tests.e2e.fake_discord_gateway import FakeGateway
from tests.e2e.fake_discord_routes import add_routes

TOKEN = "MTAw.fake-discord-bot-token"
EPHEMERAL = 1 << 6
LOADING = 1 << 7


@dataclass(frozen=True)
class FilePart:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Request:
    """One request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any  # the JSON payload (``payload_json`` of a multipart request)
    files: list[FilePart] = field(default_factory=list)
    status: int = 200
    at: float = field(default_factory=time.monotonic)
    auth: str | None = None

    @property
    def content(self) -> str:
        return str((self.body or {}).get("content") or "") if isinstance(self.body, dict) else ""

    @property
    def custom_ids(self) -> list[str]:
        rows = (self.body or {}).get("components") or [] if isinstance(self.body, dict) else []
        return [
            item["custom_id"] for row in rows for item in row.get("components", []) if "custom_id" in item
        ]

    @property
    def flags(self) -> int:
        if not isinstance(self.body, dict):
            return 0
        data = self.body.get("data") if "type" in self.body else self.body
        return int((data or {}).get("flags") or 0)

    def is_callback(self) -> bool:
        return self.method == "POST" and self.path.startswith("/interactions/")


@dataclass
class TokenState:
    """What the fake knows about one interaction token."""

    interaction_id: int
    channel_id: int
    message_id: int | None = None  # the original response (or, for a button press, the message pressed)
    acknowledged: bool = False
    expired_status: int | None = None  # 401 or 404 once the token is expired


class FakeDiscordAPI:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.cond = threading.Condition()
        self.requests: list[Request] = []
        self.downloads: list[tuple[str, float]] = []  # (attachment, when the request arrived)
        self.messages: dict[int, dict[str, Any]] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.tokens: dict[str, TokenState] = {}
        self.files: dict[str, tuple[bytes, str]] = {}  # "<id>/<name>" -> (bytes, content type)
        self.gone_channels: dict[int, tuple[int, int, str]] = {}
        self.refusals: list[list[Any]] = []  # [status, code, message, times left] for new messages
        self.gateway = FakeGateway(self)
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-discord", daemon=True)

    # --- life cycle ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v10"

    def start(self) -> FakeDiscordAPI:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        add_routes(app, self)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop (in its own thread)."""
        return self._loop

    def __enter__(self) -> FakeDiscordAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what users do ------------------------------------------------------------------------------------
    def add_file(
        self,
        data: bytes,
        *,
        filename: str = "photo.jpg",
        content_type: str | None = "image/jpeg",
        declared_size: int | None = None,
    ) -> dict[str, Any]:
        """Upload bytes to the fake CDN; returns the attachment payload (``declared_size`` may lie)."""
        attachment_id = shapes.snowflake()
        with self.cond:
            self.files[f"{attachment_id}/{filename}"] = (data, content_type or "application/octet-stream")
        url = f"{self.url}/cdn/attachments/{attachment_id}/{filename}?ex=0&hm=signature"
        size = len(data) if declared_size is None else declared_size
        return shapes.attachment(attachment_id, url, size=size, filename=filename, content_type=content_type)

    def slash(
        self,
        name: str,
        *,
        user_id: int,
        channel_id: int,
        guild_id: int | None = None,
        strings: dict[str, str] | None = None,
        files: dict[str, dict[str, Any]] | None = None,
        locale: str = "en-US",
        attachment_size_limit: int = shapes.DEFAULT_ATTACHMENT_LIMIT,
        numbers: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for ``/name`` whose token this fake will honour."""
        data = shapes.command_data(name, strings=strings, files=files, guild_id=guild_id, numbers=numbers)
        return self._interaction(
            2, user_id, channel_id, guild_id, data, locale=locale, attachment_size_limit=attachment_size_limit
        )

    def press(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int,
        guild_id: int | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """A press on the button ``custom_id`` of the bot's message ``message_id``."""
        with self.cond:
            pressed = dict(self.messages[message_id])
        channel_id = int(pressed["channel_id"])
        return self._interaction(
            3, user_id, channel_id, guild_id, shapes.button_data(custom_id), locale=locale, message=pressed
        )

    def _interaction(
        self,
        kind: int,
        user_id: int,
        channel_id: int,
        guild_id: int | None,
        data: dict[str, Any],
        *,
        locale: str,
        attachment_size_limit: int = shapes.DEFAULT_ATTACHMENT_LIMIT,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        token = f"aW50ZXJhY3Rpb24{shapes.snowflake()}"
        payload = shapes.interaction(
            kind=kind,
            token=token,
            user_id=user_id,
            channel_id=channel_id,
            guild_id=guild_id,
            data=data,
            locale=locale,
            attachment_size_limit=attachment_size_limit,
            message_payload=message,
        )
        state = TokenState(int(payload["id"]), channel_id, int(message["id"]) if message else None)
        with self.cond:
            self.tokens[token] = state
        return payload

    # --- failure switches ---------------------------------------------------------------------------------
    def expire_token(self, token: str, status: int = 401) -> None:
        """Discord forgot the interaction token (15 minutes passed): 401 Invalid Webhook Token, or 404
        Unknown Webhook with ``status=404``."""
        with self.cond:
            self.tokens[token].expired_status = status

    @staticmethod
    def dm_channel_id(user_id: int) -> int:
        """The id of the bot's direct-message channel with ``user_id`` (stable, as Discord keeps it)."""
        return 900_000_000_000_000_000 + user_id % 10**12

    def lose_channel(self, channel_id: int, status: int = 404) -> None:
        """The channel is gone (404 Unknown Channel) or the bot lost access (403 Missing Access)."""
        error = (404, 10003, "Unknown Channel") if status == 404 else (403, 50001, "Missing Access")
        with self.cond:
            self.gone_channels[channel_id] = error

    def refuse_messages(self, status: int, code: int, message: str, *, times: int = 1) -> None:
        """The next ``times`` new messages (followups and channel sends) are refused with ``status``: a 400
        Invalid Form Body, a 413 Request Entity Too Large, a 500."""
        with self.cond:
            self.refusals.append([status, code, message, times])

    def take_refusal(self) -> tuple[int, int, str] | None:
        with self.cond:
            for refusal in self.refusals:
                if refusal[3] > 0:
                    refusal[3] -= 1
                    return refusal[0], refusal[1], refusal[2]
        return None

    # --- observing the bot --------------------------------------------------------------------------------
    def wait_for(
        self, predicate: Callable[[Request], bool], *, count: int = 1, timeout: float = 10.0
    ) -> list[Request]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [r for r in self.requests if predicate(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r.method, r.path, r.status, r.content[:50]) for r in self.requests]
                    raise TimeoutError(f"waited {timeout} s for {count} matching requests; saw {seen}")
                self.cond.wait(left)

    async def until(
        self, predicate: Callable[[Request], bool], *, count: int = 1, timeout: float = 10.0
    ) -> list[Request]:
        """``wait_for`` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for, predicate, count=count, timeout=timeout)

    def matching(self, predicate: Callable[[Request], bool]) -> list[Request]:
        with self.cond:
            return [r for r in self.requests if predicate(r)]

    def for_token(self, token: str) -> list[Request]:
        """Requests made under one interaction token (its callback, edits and followups)."""
        return self.matching(lambda r: f"/{token}" in r.path)

    def to_channel(self, channel_id: int) -> list[Request]:
        return self.matching(lambda r: r.path.startswith(f"/channels/{channel_id}/messages"))

    def redeliver(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The same interaction (same id) again under a fresh token, as a duplicate delivery brings it."""
        token = f"cmVkZWxpdmVyZWQ{shapes.snowflake()}"
        with self.cond:
            old = self.tokens[payload["token"]]
            pressed = old.message_id if payload["type"] == 3 else None
            self.tokens[token] = TokenState(old.interaction_id, old.channel_id, pressed)
        return {**payload, "token": token}

    def record(self, request: Request) -> None:
        with self.cond:
            self.requests.append(request)
            self.cond.notify_all()

    def new_message(self, channel_id: int, body: dict[str, Any], files: list[FilePart], **kw: Any) -> dict:
        """Store a message the bot created; returns its payload."""
        message_id = shapes.snowflake()
        payload = shapes.message(message_id, channel_id, **kw)
        self.apply(payload, body, files)
        with self.cond:
            self.messages[message_id] = payload
        return payload

    def apply(self, payload: dict[str, Any], body: dict[str, Any], files: list[FilePart]) -> None:
        """Apply a create/edit body to a stored message payload."""
        for key in ("content", "components"):
            if key in body:
                payload[key] = body[key] if body[key] is not None else ([] if key == "components" else "")
        if "flags" in body:
            payload["flags"] = int(body["flags"] or 0) | (payload["flags"] & EPHEMERAL)
        if files:
            payload["attachments"] = [
                shapes.attachment(
                    shapes.snowflake(),
                    f"{self.url}/cdn/results/{part.filename}",
                    size=len(part.data),
                    filename=part.filename,
                    content_type=part.content_type,
                )
                for part in files
            ]
