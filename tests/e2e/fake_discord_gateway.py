"""A fake Discord gateway on the fake API's server (``ws://.../gateway``): HELLO, IDENTIFY -> READY,
heartbeats acknowledged, and INTERACTION_CREATE dispatches pushed on demand.

Frames are plain JSON text: discord.py asks for ``compress=zlib-stream`` but decompresses binary frames only
(``DiscordWebSocket.received_message``), so uncompressed text frames are valid answers.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.e2e import discord_shapes as shapes

if TYPE_CHECKING:
    from tests.e2e.fake_discord_api import FakeDiscordAPI

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 10, 11
HEARTBEAT_INTERVAL_MS = 41_250


class FakeGateway:
    def __init__(self, fake: FakeDiscordAPI) -> None:
        self.fake = fake
        self.identified = threading.Event()
        self.identify: dict[str, Any] | None = None
        self._socket: web.WebSocketResponse | None = None
        self._sequence = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json(
            {"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None}
        )
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                continue
            message = frame.json()
            if message["op"] == HEARTBEAT:
                await socket.send_json({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            elif message["op"] in (IDENTIFY, RESUME):  # a resume starts afresh: nothing was missed here
                self.identify = message["d"]
                await self._dispatch("READY", self._ready())
                self.identified.set()
        return socket

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": shapes.BOT_USER,
            "guilds": [],
            "session_id": "fake-session",
            "resume_gateway_url": self.fake.url.replace("http://", "ws://") + "/gateway",
            "application": {"id": str(shapes.APP_ID), "flags": 0},
        }

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self._socket is not None
        self._sequence += 1
        await self._socket.send_json({"op": DISPATCH, "t": event, "s": self._sequence, "d": data})

    def push_interaction(self, payload: dict[str, Any], timeout: float = 10.0) -> None:
        """Send an INTERACTION_CREATE to the connected bot (from any thread but the server's)."""
        if not self.identified.wait(timeout):
            raise TimeoutError("the bot never identified at the gateway")
        future = asyncio.run_coroutine_threadsafe(
            self._dispatch("INTERACTION_CREATE", payload), self.fake.loop
        )
        future.result(timeout)
