"""Capped downloads from the Bot API file endpoint, and the bot token kept out of logs (P5)."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Iterator

import pytest
from telegram import Bot

from bots.telegram.files import DownloadFailed, FileDownloader, TokenRedactingFilter, install_token_redaction
from core.errors import UserError
from tests.e2e.fake_bot_api import TOKEN, FakeBotAPI
from tests.e2e.offline import photo_bytes, refuse_network


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotAPI]:
    refuse_network(monkeypatch)
    with FakeBotAPI() as fake:
        yield fake


def download(api: FakeBotAPI, file_id: str, max_bytes: int, file_url: str | None = None) -> bytes:
    async def main() -> bytes:
        downloader = FileDownloader()
        files = file_url or f"{api.url}/file/bot"
        try:
            async with Bot(api.token, base_url=f"{api.url}/bot", base_file_url=files) as bot:
                return await downloader.download(bot, file_id, max_bytes)
        finally:
            await downloader.aclose()

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def test_a_file_is_downloaded_whole(api: FakeBotAPI) -> None:
    data = photo_bytes(300, 200)
    assert download(api, api.add_file(data)["file_id"], len(data)) == data


def test_an_understated_file_is_cut_off_at_the_cap(api: FakeBotAPI) -> None:
    data = photo_bytes(500, 500, fmt="PNG", noise=True)
    file_id = api.add_file(data, declared_size=1000)["file_id"]  # getFile says 1 kB
    with pytest.raises(UserError) as refused:
        download(api, file_id, 200_000)
    assert refused.value.key == "intake.too_large" and refused.value.params["limit_mb"] == 0.2


def test_a_failed_download_names_neither_url_nor_token(api: FakeBotAPI) -> None:
    file_id = api.add_file(b"gone")["file_id"]
    api.expire_file(file_id)  # getFile answers, the file endpoint says 404
    with pytest.raises(DownloadFailed) as failed:
        download(api, file_id, 1000)
    assert str(failed.value) == "file download answered HTTP 404" and failed.value.__context__ is None
    # Nothing listens on port 1: httpx's error would carry the URL; it is not chained.
    with pytest.raises(DownloadFailed) as failed:
        download(api, api.add_file(b"x")["file_id"], 1000, file_url="http://127.0.0.1:1/file/bot")
    assert str(failed.value) == "file download failed: ConnectError"
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_the_redacting_filter_scrubs_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.telegram.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    install_token_redaction(TOKEN, logger)
    install_token_redaction(TOKEN, logger)  # idempotent
    try:
        logger.warning("GET https://api.telegram.org/file/bot%s/photos/x.jpg failed", TOKEN)
        try:
            raise RuntimeError(f"httpx.ConnectError for https://api.telegram.org/bot{TOKEN}/getFile")
        except RuntimeError:
            logger.exception("download failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert TOKEN not in output
    assert (
        output.count("<redacted>") == 2
        and "RuntimeError: httpx.ConnectError" in output
        and "Traceback" in output
    )
    assert sum(isinstance(f, TokenRedactingFilter) for f in handler.filters) == 1


def test_the_bot_process_logs_no_token_even_at_debug_level(api: FakeBotAPI) -> None:
    """python-telegram-bot itself logs its API URLs (with the token) at DEBUG; the filter catches them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    redactor = install_token_redaction(TOKEN)
    try:
        download(api, api.add_file(photo_bytes())["file_id"], 10**6)
    finally:
        root.setLevel(previous)
        root.removeHandler(handler)
        for other in root.handlers:  # the test runner's own handlers: leave them as they were
            other.removeFilter(redactor)
    output = stream.getvalue()
    assert "<redacted>" in output and TOKEN not in output, output[-2000:]


def test_the_telegram_modules_import_no_model_library() -> None:
    import subprocess

    code = (
        "import sys\n"
        "import bots.telegram.app, bots.telegram.handlers, bots.telegram.sender, bots.telegram.files\n"
        "import bots.telegram.ordering, bots.upload_fit, jobs.queue, core.events\n"
        "import core.studio.delivery\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'ultralytics', 'mediapipe', 'cv2')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
