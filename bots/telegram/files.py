"""Downloading user files from Telegram with a byte cap, without ever logging the file URL.

A Telegram file URL is ``{api_url}/file/bot{token}/{path}``: it carries the bot token, so it must not reach a
log line, an exception message or a traceback. Download errors are re-raised without the httpx exception
chained, and ``TokenRedactingFilter`` scrubs the token from every log record as a second line of defence.
"""

from __future__ import annotations

import logging
import traceback

import httpx
from telegram import Bot
from telegram.error import BadRequest

from core.config import MB
from core.imaging.intake import aread_capped, check_declared_size

DOWNLOAD_TIMEOUT_S = 60.0
# What api.telegram.org lets bots download; a self-hosted Bot API server has no such limit.
CLOUD_DOWNLOAD_LIMIT = 20 * MB


class DownloadFailed(Exception):
    """Telegram did not hand out the file (network error, HTTP error). Never carries the URL."""


class FileDownloader:
    """Streams files from the Bot API file endpoint over one pooled HTTP client."""

    def __init__(self, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def download(
        self, bot: Bot, file_id: str, max_bytes: int, declared_size: int | None = None
    ) -> bytes:
        """The file's bytes; ``UserError("intake.too_large")`` as soon as the size is known to exceed
        ``max_bytes`` (announced by getFile or the HTTP response, or counted while streaming)."""
        try:
            file = await bot.get_file(file_id)
        except BadRequest as error:
            if "too big" not in error.message.lower():
                raise
            # Telegram's own download limit is lower than the configured one (no self-hosted Bot API server).
            check_declared_size(max(declared_size or 0, CLOUD_DOWNLOAD_LIMIT + 1), CLOUD_DOWNLOAD_LIMIT)
            raise
        check_declared_size(file.file_size, max_bytes)
        if not file.file_path:
            raise DownloadFailed("getFile answered without a file path")
        try:
            async with self._http().stream("GET", file.file_path) as response:
                if response.status_code != 200:
                    raise DownloadFailed(f"file download answered HTTP {response.status_code}")
                declared = response.headers.get("Content-Length")
                check_declared_size(int(declared) if declared and declared.isdigit() else None, max_bytes)
                return await aread_capped(response.aiter_bytes(), max_bytes)
        except httpx.HTTPError as error:
            # httpx messages may contain the URL, and so the token: keep only the error class.
            raise DownloadFailed(f"file download failed: {type(error).__name__}") from None

    def _http(self) -> httpx.AsyncClient:
        # Created on first use, inside the running event loop that will also close it.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class TokenRedactingFilter(logging.Filter):
    """Replaces the bot token in a record's message and traceback. Attach it to handlers (a filter on a
    logger does not see records propagated from its children)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._token:
            return True
        message = record.getMessage()
        rendered = self._token in message
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so no formatter ever sees the raw exception text.
            message = message + "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info, record.exc_text, rendered = None, None, True
        if rendered:
            record.msg, record.args = message.replace(self._token, "<redacted>"), None
        return True


def install_token_redaction(token: str, logger: logging.Logger | None = None) -> TokenRedactingFilter:
    """Add the filter to every handler of ``logger`` (default: the root logger)."""
    redactor = TokenRedactingFilter(token)
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, TokenRedactingFilter) for f in handler.filters):
            handler.addFilter(redactor)
    return redactor
