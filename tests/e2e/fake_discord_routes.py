"""The HTTP routes of the fake Discord API: request parsing (JSON, multipart with ``payload_json``) and the
answers, in Discord's shapes and with Discord's error codes."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from tests.e2e import discord_shapes as shapes

if TYPE_CHECKING:
    from tests.e2e.fake_discord_api import FakeDiscordAPI, FilePart, Request, TokenState

API = "/api/v10"
DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, CHANNEL_MESSAGE, UPDATE_MESSAGE = 5, 6, 4, 7


def add_routes(app: web.Application, fake: FakeDiscordAPI) -> None:
    routes = Routes(fake)
    app.router.add_get(API + "/users/@me", routes.me)
    app.router.add_post(API + "/users/@me/channels", routes.open_dm)
    app.router.add_get(API + "/oauth2/applications/@me", routes.application)
    app.router.add_get(API + "/gateway/bot", routes.gateway_bot)
    app.router.add_get(API + "/gateway", routes.gateway_bot)
    app.router.add_put(API + "/applications/{app}/commands", routes.sync)
    app.router.add_put(API + "/applications/{app}/guilds/{guild}/commands", routes.sync)
    app.router.add_post(API + "/interactions/{id}/{token}/callback", routes.callback)
    app.router.add_route("*", API + "/webhooks/{app}/{token}/messages/{message}", routes.webhook_message)
    app.router.add_post(API + "/webhooks/{app}/{token}", routes.followup)
    app.router.add_post(API + "/channels/{channel}/messages", routes.channel_send)
    app.router.add_patch(API + "/channels/{channel}/messages/{message}", routes.channel_edit)
    app.router.add_get("/cdn/attachments/{id}/{name}", routes.download)
    app.router.add_get("/gateway", fake.gateway.handle)


def json_response(payload: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when the content type is exactly "application/json".
    return web.Response(body=json.dumps(payload), status=status, headers={"Content-Type": "application/json"})


def error(status: int, code: int, message: str) -> web.Response:
    return json_response({"message": message, "code": code}, status=status)


class Routes:
    def __init__(self, fake: FakeDiscordAPI) -> None:
        self.fake = fake

    async def _record(self, request: web.Request) -> Request:
        from tests.e2e.fake_discord_api import FilePart, Request

        body: Any = None
        files: list[FilePart] = []
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):  # nested multipart: discord.py sends none
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                elif part.filename:
                    data = bytes(await part.read())
                    kind = part.headers.get("Content-Type", "application/octet-stream")
                    files.append(FilePart(part.name or "", part.filename, kind, data))
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        path = request.path.removeprefix(API)
        recorded = Request(
            request.method, path, dict(request.query), body, files, auth=request.headers.get("Authorization")
        )
        return recorded

    def _answer(self, recorded: Request, response: web.Response) -> web.Response:
        recorded.status = response.status
        self.fake.record(recorded)
        return response

    def _token(self, recorded: Request, token: str) -> tuple[TokenState | None, web.Response | None]:
        state = self.fake.tokens.get(token)
        if state is None or state.expired_status == 404:
            return state, self._answer(recorded, error(404, 10015, "Unknown Webhook"))
        if state.expired_status == 401:
            return state, self._answer(recorded, error(401, 50027, "Invalid Webhook Token"))
        return state, None

    # --- login and sync -----------------------------------------------------------------------------------
    async def me(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        if recorded.auth != f"Bot {self.fake.token}":
            return self._answer(recorded, error(401, 0, "401: Unauthorized"))
        return self._answer(recorded, json_response(shapes.BOT_USER))

    async def open_dm(self, request: web.Request) -> web.Response:
        """The bot's direct-message channel with a user (created once, the same id every time)."""
        recorded = await self._record(request)
        if recorded.auth != f"Bot {self.fake.token}":
            return self._answer(recorded, error(401, 0, "401: Unauthorized"))
        recipient = int((recorded.body or {})["recipient_id"])
        channel = {
            "id": str(self.fake.dm_channel_id(recipient)),
            "type": 1,
            "last_message_id": None,
            "recipients": [shapes.user(recipient)],
        }
        return self._answer(recorded, json_response(channel))

    async def application(self, request: web.Request) -> web.Response:
        return self._answer(await self._record(request), json_response(shapes.application()))

    async def gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        url = self.fake.url.replace("http://", "ws://") + "/gateway"
        return self._answer(
            await self._record(request),
            json_response({"url": url, "shards": 1, "session_start_limit": limit}),
        )

    async def sync(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        guild = request.match_info.get("guild")
        commands = [
            {**command, "id": str(shapes.snowflake()), "application_id": str(shapes.APP_ID), "version": "1"}
            | ({"guild_id": guild} if guild else {})
            for command in recorded.body or []
        ]
        with self.fake.cond:
            self.fake.commands[int(guild) if guild else None] = commands
        return self._answer(recorded, json_response(commands))

    # --- interactions -------------------------------------------------------------------------------------
    async def callback(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        state = self.fake.tokens.get(request.match_info["token"])
        if state is None or state.expired_status is not None:
            return self._answer(recorded, error(404, 10062, "Unknown interaction"))
        if state.acknowledged:
            return self._answer(recorded, error(400, 40060, "Interaction has already been acknowledged."))
        state.acknowledged = True
        kind, data = recorded.body["type"], recorded.body.get("data") or {}
        ephemeral = bool(int(data.get("flags") or 0) & 64)
        if kind == DEFERRED_CHANNEL_MESSAGE:
            flags = 128 | (64 if ephemeral else 0)
            message = self.fake.new_message(state.channel_id, {}, [], flags=flags)
            state.message_id = int(message["id"])
        elif kind == CHANNEL_MESSAGE:
            message = self.fake.new_message(
                state.channel_id, data, recorded.files, flags=64 if ephemeral else 0
            )
            state.message_id = int(message["id"])
        else:  # a deferred update (or an update) of the message whose button was pressed
            message = self.fake.messages[state.message_id or 0]
            if kind == UPDATE_MESSAGE:
                self.fake.apply(message, data, recorded.files)
        answer = {
            "interaction": {
                "id": str(state.interaction_id),
                "type": 2,
                "response_message_id": message["id"],
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message["flags"] & 64),
            },
            "resource": {"type": kind, "message": message},
        }
        return self._answer(recorded, json_response(answer))

    async def webhook_message(self, request: web.Request) -> web.Response:
        """GET/PATCH/DELETE ``webhooks/{app}/{token}/messages/{@original or id}``."""
        recorded = await self._record(request)
        state, refused = self._token(recorded, request.match_info["token"])
        if refused is not None:
            return refused
        assert state is not None
        target = request.match_info["message"]
        message_id = state.message_id if target == "@original" else int(target)
        message = self.fake.messages.get(message_id or 0)
        if message is None:
            return self._answer(recorded, error(404, 10008, "Unknown Message"))
        if request.method == "DELETE":
            self.fake.messages.pop(int(message["id"]), None)
            return self._answer(recorded, web.Response(status=204))
        if request.method == "PATCH":
            self.fake.apply(message, recorded.body or {}, recorded.files)
            message["flags"] &= ~128
            message["edited_timestamp"] = shapes.iso_now()
        return self._answer(recorded, json_response(message))

    async def followup(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        state, refused = self._token(recorded, request.match_info["token"])
        if refused is not None:
            return refused
        assert state is not None
        refusal = self.fake.take_refusal()
        if refusal is not None:
            return self._answer(recorded, error(*refusal))
        body = recorded.body or {}
        message = self.fake.new_message(
            state.channel_id, body, recorded.files, flags=int(body.get("flags") or 0)
        )
        if request.query.get("wait") in ("true", "1"):
            return self._answer(recorded, json_response(message))
        return self._answer(recorded, web.Response(status=204))

    # --- channels (the bot token) -------------------------------------------------------------------------
    def _channel(self, recorded: Request, channel_id: int) -> web.Response | None:
        if recorded.auth != f"Bot {self.fake.token}":
            return self._answer(recorded, error(401, 0, "401: Unauthorized"))
        gone = self.fake.gone_channels.get(channel_id)
        if gone is not None:
            return self._answer(recorded, error(*gone))
        return None

    async def channel_send(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        channel_id = int(request.match_info["channel"])
        refused = self._channel(recorded, channel_id)
        if refused is not None:
            return refused
        refusal = self.fake.take_refusal()
        if refusal is not None:
            return self._answer(recorded, error(*refusal))
        body = recorded.body or {}
        reference = (body.get("message_reference") or {}).get("message_id")
        message = self.fake.new_message(
            channel_id, body, recorded.files, reference=int(reference) if reference else None
        )
        return self._answer(recorded, json_response(message))

    async def channel_edit(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        channel_id = int(request.match_info["channel"])
        refused = self._channel(recorded, channel_id)
        if refused is not None:
            return refused
        message = self.fake.messages.get(int(request.match_info["message"]))
        if message is None or int(message["channel_id"]) != channel_id or message["flags"] & 64:
            return self._answer(recorded, error(404, 10008, "Unknown Message"))
        self.fake.apply(message, recorded.body or {}, recorded.files)
        return self._answer(recorded, json_response(message))

    # --- the CDN ------------------------------------------------------------------------------------------
    async def download(self, request: web.Request) -> web.StreamResponse:
        key = f"{request.match_info['id']}/{request.match_info['name']}"
        with self.fake.cond:
            self.fake.downloads.append((key, time.monotonic()))
            self.fake.cond.notify_all()
            found = self.fake.files.get(key)
        if found is None:
            return web.Response(status=404)
        data, content_type = found
        # Streamed in chunks without a length, as a CDN may: only counting can cap the download.
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        for start in range(0, len(data), 64 * 1024):
            await response.write(data[start : start + 64 * 1024])
        await response.write_eof()
        return response
