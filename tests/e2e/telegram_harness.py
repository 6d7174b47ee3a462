"""Helpers for the Telegram tests: settings pointing at the fake Bot API, a network guard, test images."""

from __future__ import annotations

import io
import ipaddress
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from pydantic import SecretStr
from telegram import Update
from telegram.ext import Application

from bots.telegram.app import build_application
from core.config import IntakeSettings, Settings, TelegramSettings
from core.service import Studio
from tests.e2e.fake_bot_api import TOKEN


def refuse_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a non-loopback address fails the test (the fake Bot API is on 127.0.0.1)."""
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise AssertionError(f"test tried to reach the network: {host}")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def make_settings(tmp_path: Path, api_url: str, **telegram: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'atelier.db'}",
        telegram=TelegramSettings(token=SecretStr(TOKEN), api_url=api_url, **telegram),
        intake=IntakeSettings(),
    )


class RecordingQueue:
    """The ``JobQueue`` port for tests that need no worker: remembers what was enqueued."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, str, str]] = []

    def enqueue(self, job_id: str, queue: str, kind: str) -> None:
        self.jobs.append((job_id, queue, kind))


def photo_bytes(
    width: int = 320, height: int = 240, fmt: str = "JPEG", color: str = "tan", noise: bool = False
) -> bytes:
    """A small real image file; ``noise`` makes it incompressible (for size limits)."""
    if noise:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), color)
        ImageDraw.Draw(image).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill="navy")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


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
