"""The Discord bot process: the client and its wiring (``build_client``) and the process itself
(``run_discord_bot``).

The process holds a gateway connection for interactions and runs the core ``Deliverer`` beside it: slash
commands and button presses become jobs through the studio; finished jobs come back from the database
(durable) with Redis events as the fast path. It needs no privileged intent (slash-command attachments
arrive with the interaction) and imports no model library; work reaches the workers by Celery task name.
"""

from __future__ import annotations

import asyncio
import logging

import discord
import discord.http
import yarl
from discord.gateway import DiscordWebSocket

from bots.discord.files import AttachmentDownloader
from bots.discord.interactions import DiscordFrontDesk
from bots.discord.sender import DiscordResultSender
from bots.discord.tree import build_tree, sync_commands
from bots.processes import stop_on_signals, widen_thread_pool
from core.config import Settings
from core.studio.commands import offered_commands
from core.studio.service import Studio

log = logging.getLogger(__name__)


def point_at_api(api_url: str) -> None:
    """Send every REST call, interaction callbacks and webhooks included, to ``api_url``.

    discord.py has no per-client option for the API root: each request's URL is built from the class
    attribute ``discord.http.Route.BASE``. Setting it process-wide is sound because a bot process runs one
    client; it lets a proxy, or the tests' local fake server, stand in for discord.com. The gateway address
    is asked from this API (``GET /gateway/bot``), so it follows."""
    discord.http.Route.BASE = api_url.rstrip("/")


async def point_at_gateway(client: discord.Client) -> None:
    """Connect to the gateway the API names (``GET /gateway/bot``), as Discord asks bots to do. discord.py
    itself goes to its built-in ``wss://gateway.discord.gg`` (a class attribute, like ``Route.BASE``), which
    would bypass a proxy or a test server standing in for the API."""
    _, url, _ = await client.http.get_bot_gateway()
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)


class AtelierClient(discord.Client):
    """A client with only the guilds intent (interactions need no privileged one); its slash commands and
    buttons go to the desk."""

    def __init__(self, settings: Settings, studio: Studio) -> None:
        super().__init__(intents=discord.Intents(guilds=True))
        self.settings = settings
        self.downloader = AttachmentDownloader()
        self.sender = DiscordResultSender(self, settings.discord)
        self.desk = DiscordFrontDesk(settings, studio, self.sender, self.downloader)
        offered = offered_commands(settings)
        self.tree = build_tree(self, self.desk.on_command, self.desk.on_tree_error, offered)

    async def setup_hook(self) -> None:
        # Runs at login, once the application id is known and before the gateway connects.
        await point_at_gateway(self)
        await sync_commands(self.tree, self.settings.discord)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.desk.on_interaction(interaction)

    async def close(self) -> None:
        await super().close()
        await self.downloader.aclose()


def build_client(settings: Settings, studio: Studio) -> AtelierClient:
    point_at_api(settings.discord.api_url)
    return AtelierClient(settings, studio)


async def run_discord_bot(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Serve interactions and deliver results until ``stop`` is set (or SIGINT/SIGTERM when none is given)."""
    from bots.wiring import wire

    if settings.discord.token is None:
        raise ValueError("settings.discord.token is not set")
    widen_thread_pool()
    wiring = await asyncio.to_thread(wire, settings)
    client = build_client(settings, wiring.studio)
    deliverer = wiring.deliverer(client.sender)
    stop = stop if stop is not None else stop_on_signals()
    try:
        async with client:
            await client.login(settings.discord.token.get_secret_value())
            gateway = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
            delivery = asyncio.create_task(deliverer.run(), name="deliverer")
            stopped = asyncio.create_task(stop.wait(), name="stop")
            log.info("discord bot %s running", client.user)
            try:
                await asyncio.wait({gateway, delivery, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                delivery.cancel()  # first: a send cut short gives its claim back while HTTP still works
                (delivered,) = await asyncio.gather(delivery, return_exceptions=True)
                await client.close()
                (connected,) = await asyncio.gather(gateway, return_exceptions=True)
    finally:
        wiring.close()
    for outcome in (connected, delivered):  # the gateway gave up (bad token) or delivery broke (a bug)
        if isinstance(outcome, Exception):
            raise RuntimeError("the discord bot stopped unexpectedly") from outcome
    log.info("discord bot stopped")
