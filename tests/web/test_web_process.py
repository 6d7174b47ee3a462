"""The canvas as ``atelier serve`` runs it: on its port until stopped, with a link secret in any case."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest

from bots.web.app import run_web, with_web_secret
from core.config import Settings
from core.studio.service import Studio
from tests.web.conftest import canvas_settings


def test_without_a_secret_serve_makes_one_for_the_run_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        first, second = with_web_secret(settings), with_web_secret(settings)
    assert settings.web.secret is None  # settings are never changed; the run gets a copy
    assert first.web.secret is not None and second.web.secret is not None
    assert first.web.secret.get_secret_value() != second.web.secret.get_secret_value()
    assert "ATELIER_WEB__SECRET" in caplog.text
    configured = canvas_settings(tmp_path)
    assert with_web_secret(configured) is configured


def test_the_canvas_serves_on_its_port_until_stopped(
    studio: Studio, caplog: pytest.LogCaptureFixture
) -> None:
    settings = studio.settings.model_copy(update={"web": studio.settings.web.model_copy(update={"port": 0})})

    async def scenario() -> None:
        stop = asyncio.Event()
        with caplog.at_level(logging.INFO, logger="bots.web.app"):
            serving = asyncio.create_task(run_web(settings, stop=stop, studio=studio))
            for _ in range(100):
                if "listening on http://" in caplog.text:
                    break
                await asyncio.sleep(0.05)
        address = caplog.text.split("listening on ")[1].split(",")[0]
        async with aiohttp.ClientSession() as session, session.get(address) as page:
            assert page.status == 200
        stop.set()
        await asyncio.wait_for(serving, 10)

    asyncio.run(scenario())
