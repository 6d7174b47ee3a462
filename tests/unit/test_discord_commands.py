"""The slash commands Discord is told about: the core's command table (names, options, choices), English
with Korean localisations, synced to the development guilds or globally; and a bot process without torch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bots.discord.tree import option_names
from core.config import ModelSettings
from core.messages import t
from core.studio.commands import command_table
from core.studio.service import bootstrap
from tests.e2e.discord_harness import logged_in, make_settings, run
from tests.e2e.discord_shapes import APP_ID, GUILD_ID
from tests.e2e.fake_discord_api import FakeDiscordAPI
from tests.e2e.offline import refuse_network
from tests.fakes import MemoryQueue

ATTACHMENT, STRING, NUMBER = 11, 3, 10
ADMINISTRATOR = 1 << 3


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscordAPI]:
    refuse_network(monkeypatch)
    with FakeDiscordAPI() as fake:
        yield fake


def synced(
    api: FakeDiscordAPI, tmp_path: Path, models: ModelSettings | None = None, **discord: Any
) -> list[tuple[str, str]]:
    """Log in with these Discord settings; returns the (method, path) of every command sync."""
    settings = make_settings(tmp_path, api.api_url, **discord)
    if models is not None:
        settings = settings.model_copy(update={"models": models})
    studio = bootstrap(settings, queue=MemoryQueue())

    async def scenario() -> None:
        async with logged_in(settings, studio):
            pass

    try:
        run(scenario)
    finally:
        studio.store.close()
    return [(r.method, r.path) for r in api.matching(lambda r: r.path.startswith("/applications/"))]


def test_development_syncs_to_the_configured_guilds_only(api: FakeDiscordAPI, tmp_path: Path) -> None:
    other = GUILD_ID + 1
    assert synced(api, tmp_path, guild_ids=[GUILD_ID, other]) == [
        ("PUT", f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"),
        ("PUT", f"/applications/{APP_ID}/guilds/{other}/commands"),
    ]


def test_production_syncs_globally(api: FakeDiscordAPI, tmp_path: Path) -> None:
    assert synced(api, tmp_path, guild_ids=[]) == [("PUT", f"/applications/{APP_ID}/commands")]


def test_sync_can_be_switched_off(api: FakeDiscordAPI, tmp_path: Path) -> None:
    assert synced(api, tmp_path, sync_commands=False) == []


def test_the_commands_are_the_core_table_with_korean_localisations(
    api: FakeDiscordAPI, tmp_path: Path
) -> None:
    synced(api, tmp_path, ModelSettings(face_prior="stylegan"), guild_ids=[])  # a server that offers all
    commands = {c["name"]: c for c in api.commands[None]}
    admin = commands.pop("admin")  # operators only: outside the shared table, hidden from members
    assert int(admin["default_member_permissions"]) == ADMINISTRATOR
    assert [o["name"] for o in admin["options"]] == ["args"]
    assert list(commands) == [spec.name for spec in command_table()]
    assert all(c.get("default_member_permissions") is None for c in commands.values())
    for spec in command_table():
        command = commands[spec.name]
        assert command["description"] == t(f"cmd.{spec.name}", "en")
        assert command["description_localizations"] == {"ko": t(f"cmd.{spec.name}", "ko")}
        offered = {o["name"]: o for o in command["options"]}
        expected = [name for option in spec.options for name in option_names(option)]
        assert sorted(offered) == sorted(expected)
        for option in spec.options:
            first = offered[option.name]
            assert (
                first["type"] == {"attachment": ATTACHMENT, "choice": STRING, "number": NUMBER}[option.kind]
            )
            if option.bounds is not None:
                assert (first["min_value"], first["max_value"]) == option.bounds
            assert first.get("required", False) == option.required
            assert [c["value"] for c in first.get("choices", [])] == list(option.choices)
    train = {o["name"] for o in commands["train"]["options"]}
    assert train == {"photo"} | {f"photo{n}" for n in range(2, 11)}
    looks = {
        c["value"]: c for c in next(o for o in commands["suit"]["options"] if o["name"] == "look")["choices"]
    }
    assert looks["no-tie"]["name"] == t("suit.tie.no-tie", "en")
    assert looks["no-tie"]["name_localizations"] == {"ko": t("suit.tie.no-tie", "ko")}


def test_the_bot_process_does_not_import_torch(repo_root: Path) -> None:
    heavy = "('torch', 'diffusers', 'transformers', 'cv2')"
    code = f"import sys, bots.discord.app; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
