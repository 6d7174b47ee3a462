"""What the Discord tests share: settings pointing at the fake API, a logged-in real client, feeding
gateway payloads, and recorders that show in which order the bot did things."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bots.discord.app import AtelierClient, build_client
from core.config import DiscordSettings, IntakeSettings, Settings
from core.studio.service import Studio
from tests.e2e.discord_shapes import GUILD_ID
from tests.e2e.fake_discord_api import EPHEMERAL, TOKEN, FakeDiscordAPI, Request
from tests.e2e.offline import photo_bytes

USER, OTHER_USER, CHANNEL = 424242424242424242, 535353535353535353, 777777777777777777


def make_settings(tmp_path: Path, api_url: str, **discord: Any) -> Settings:
    discord.setdefault("guild_ids", [GUILD_ID])
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'atelier.db'}",
        discord=DiscordSettings(token=SecretStr(TOKEN), api_url=api_url, **discord),
        intake=IntakeSettings(),
    )


class CallLog:
    """When each watched call started (monotonic, the fake server's clock too), from any thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def note(self, name: str) -> None:
        with self._lock:
            self.calls.append((name, time.monotonic()))

    def first(self) -> float:
        with self._lock:
            assert self.calls, "no watched call happened"
            return min(at for _, at in self.calls)


class WatchedStore:
    """The studio's job store, noting (and optionally slowing) every method call."""

    def __init__(self, store: Any, log: CallLog, delay_s: float = 0.0) -> None:
        self._store, self._log, self._delay_s = store, log, delay_s

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not callable(value) or name == "close":
            return value

        def watched(*args: Any, **kwargs: Any) -> Any:
            self._log.note(f"store.{name}")
            time.sleep(self._delay_s)
            return value(*args, **kwargs)

        return watched


def watch_studio(studio: Studio, log: CallLog, *, delay_s: float = 0.0) -> None:
    """Note ``studio.handle`` and every store call; ``delay_s`` slows each (a slow database or Redis)."""
    handle = studio.handle

    async def watched_handle(command: Any) -> Any:
        log.note("studio.handle")
        await asyncio.sleep(delay_s)
        return await handle(command)

    studio.handle = watched_handle  # type: ignore[method-assign]
    studio.store = WatchedStore(studio.store, log, delay_s)  # type: ignore[assignment]


@asynccontextmanager
async def logged_in(settings: Settings, studio: Studio) -> AsyncIterator[AtelierClient]:
    """The bot's client, logged in to the fake API (commands synced), without a gateway connection."""
    client = build_client(settings, studio)
    await client.login(TOKEN)
    try:
        yield client
    finally:
        await settle()
        await client.close()


def feed(client: AtelierClient, payload: dict[str, Any]) -> None:
    """Hand an INTERACTION_CREATE payload to the client exactly as its gateway connection would."""
    client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]


async def settle(timeout: float = 20.0) -> None:
    """Wait for every handler the client started (each interaction runs as a task of its own)."""
    handlers = [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith(("discord.py: ", "CommandTree-invoker")) and not task.done()
    ]
    if handlers:
        await asyncio.wait(handlers, timeout=timeout)


async def handled(client: AtelierClient, payload: dict[str, Any]) -> None:
    feed(client, payload)
    await settle()


def run(scenario: Callable[[], Any], timeout: float = 60.0) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=timeout))


# --- what the bot sent for one interaction ---------------------------------------------------------------


def unmask_payload(
    api: FakeDiscordAPI, data: bytes | None = None, *, guild_id: int | None = GUILD_ID, **file: Any
) -> dict:
    """``/unmask`` with a photo (a small real JPEG unless ``data`` is given) from ``USER`` in ``CHANNEL``."""
    photo = api.add_file(data if data is not None else photo_bytes(), **file)
    return api.slash("unmask", user_id=USER, channel_id=CHANNEL, guild_id=guild_id, files={"photo": photo})


def callback(api: FakeDiscordAPI, payload: dict) -> Request:
    """The interaction's one acknowledgement."""
    (found,) = [r for r in api.for_token(payload["token"]) if r.is_callback()]
    return found


def edits(api: FakeDiscordAPI, payload: dict) -> list[Request]:
    return [r for r in api.for_token(payload["token"]) if r.method == "PATCH"]


def followups(api: FakeDiscordAPI, payload: dict) -> list[Request]:
    return [r for r in api.for_token(payload["token"]) if r.method == "POST" and not r.is_callback()]


def original_message_id(api: FakeDiscordAPI, payload: dict) -> int:
    """The id of the interaction's own response message (for a press: the message pressed)."""
    with api.cond:
        return api.tokens[payload["token"]].message_id or 0


def assert_refused_privately(api: FakeDiscordAPI, payload: dict, expected: str) -> None:
    """Publicly deferred, then the public "thinking" message deleted and an ephemeral followup sent."""
    assert not callback(api, payload).flags & EPHEMERAL
    methods = [r.method for r in api.for_token(payload["token"]) if not r.is_callback()]
    assert methods == ["DELETE", "POST"]
    (followup,) = followups(api, payload)
    assert followup.flags & EPHEMERAL and expected in followup.content, followup.content
