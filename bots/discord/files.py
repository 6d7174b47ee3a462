"""Downloading slash-command attachments from Discord's CDN with a byte cap, never logging their URLs.

An attachment URL is signed (``ex``/``is``/``hm`` query parameters) and opens the user's photo to anyone who
has it for a while, so it must not reach a log line or an exception message: download errors are re-raised
without the aiohttp exception (whose text carries the URL) chained.
"""

from __future__ import annotations

import functools

import aiohttp
import discord

from core.imaging.intake import aread_capped, check_declared_size
from core.studio.commands import Upload

DOWNLOAD_TIMEOUT_S = 60.0
CHUNK_BYTES = 64 * 1024


class DownloadFailed(Exception):
    """The CDN did not hand out the file (network error, HTTP error). Never carries the URL."""


class AttachmentDownloader:
    """Streams attachments over one pooled aiohttp session (created inside the loop that closes it)."""

    def __init__(self, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def upload(self, attachment: discord.Attachment, limit: int) -> Upload:
        """The attachment as the core's ``Upload``: its announced size and type are checked by the core
        against ``limit`` (the interaction's attachment limit and ours) before ``fetch`` downloads it."""
        return Upload(
            fetch=functools.partial(self.download, attachment.url),
            size=attachment.size,
            content_type=attachment.content_type,
            filename=attachment.filename,
            limit=limit,
        )

    async def download(self, url: str, max_bytes: int) -> bytes:
        """The file's bytes; ``UserError("intake.too_large")`` as soon as more than ``max_bytes`` arrive (or
        are announced by the response): an attachment's declared size can lie."""
        try:
            async with self._http().get(url) as response:
                if response.status != 200:
                    raise DownloadFailed(f"attachment download answered HTTP {response.status}")
                check_declared_size(response.content_length, max_bytes)
                return await aread_capped(response.content.iter_chunked(CHUNK_BYTES), max_bytes)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise DownloadFailed(f"attachment download failed: {type(error).__name__}") from None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
