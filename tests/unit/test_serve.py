"""``atelier serve`` runs every bot that has a token, side by side, and stops them together."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from bots.serve import configured_bots, run_bots, serve
from core.config import Settings


def settings_with(tmp_path: Path, *, telegram: bool, discord: bool) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    settings.telegram.token = SecretStr("123:abc") if telegram else None
    settings.discord.token = SecretStr("discord-token") if discord else None
    return settings


@pytest.mark.parametrize(
    ("telegram", "discord", "bots"),
    [(True, False, ["telegram"]), (False, True, ["discord"]), (True, True, ["telegram", "discord"])],
)
def test_the_bots_with_a_token_are_the_ones_that_run(
    tmp_path: Path, telegram: bool, discord: bool, bots: list[str]
) -> None:
    assert list(configured_bots(settings_with(tmp_path, telegram=telegram, discord=discord))) == bots


def test_serve_without_any_token_says_which_variables_to_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert serve(settings_with(tmp_path, telegram=False, discord=False)) == 2
    assert "ATELIER_TELEGRAM__TOKEN" in caplog.text and "ATELIER_DISCORD__TOKEN" in caplog.text


def test_both_bots_run_until_stop_and_one_failing_stops_the_other(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, telegram=True, discord=True)
    ran: list[str] = []

    async def bot(name: str, settings: Settings, *, stop: asyncio.Event) -> None:
        ran.append(name)
        await stop.wait()
        ran.append(f"{name} stopped")

    async def broken(settings: Settings, *, stop: asyncio.Event) -> None:
        raise ConnectionError("login refused")

    async def scenario() -> None:
        stop = asyncio.Event()
        bots = {"telegram": lambda s, *, stop: bot("telegram", s, stop=stop)}
        bots["discord"] = lambda s, *, stop: bot("discord", s, stop=stop)
        asyncio.get_running_loop().call_later(0.1, stop.set)
        await run_bots(settings, bots, stop)  # type: ignore[arg-type]
        with pytest.raises(ExceptionGroup) as failed:
            await run_bots(settings, {"telegram": bots["telegram"], "discord": broken}, asyncio.Event())  # type: ignore[dict-item]
        assert failed.group_contains(ConnectionError)

    asyncio.run(scenario())
    assert sorted(ran[:4]) == ["discord", "discord stopped", "telegram", "telegram stopped"]
    assert ran[4:] == ["telegram"]  # started, then cancelled when the other bot failed


def test_serve_says_when_the_non_commercial_face_prior_is_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_with(tmp_path, telegram=False, discord=False)
    serve(settings)
    assert "face prior" not in caplog.text
    caplog.clear()
    settings.models.face_prior = "stylegan"
    serve(settings)
    assert "face prior (stylegan) is ON" in caplog.text
    assert "non-commercial" in caplog.text and "commercial use: no" in caplog.text
