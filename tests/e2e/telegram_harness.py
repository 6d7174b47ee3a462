"""Helpers for the Telegram tests: settings pointing at the fake Bot API, the application around updates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram import Update
from telegram.ext import Application

from bots.telegram.app import build_application
from core.config import IntakeSettings, Settings, TelegramSettings
from core.studio.service import Studio
from tests.e2e.fake_bot_api import TOKEN


def make_settings(tmp_path: Path, api_url: str, **telegram: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'atelier.db'}",
        telegram=TelegramSettings(token=SecretStr(TOKEN), api_url=api_url, **telegram),
        intake=IntakeSettings(),
    )


@asynccontextmanager
async def initialized(settings: Settings, studio: Studio) -> AsyncIterator[Application]:
    """The bot's application, initialized (getMe) and with its command menu set, without polling."""
    application = build_application(settings, studio)
    async with application:
        assert application.post_init is not None
        await application.post_init(application)
        yield application
    assert application.post_shutdown is not None
    await application.post_shutdown(application)


async def feed(application: Application, update: dict[str, Any]) -> None:
    """Process one update exactly as polling would hand it over."""
    await application.process_update(Update.de_json(update, application.bot))
