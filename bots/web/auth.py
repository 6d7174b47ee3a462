"""Who is drawing: a Telegram Mini App's ``initData`` or a signed canvas link (Discord, the console).

Both come with every request (the form fields ``init_data`` / ``token`` of ``POST /sketch``, the headers
``X-Telegram-Init-Data`` / ``X-Canvas-Token`` of the polling ``GET``s); nothing is kept between requests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bots.web.initdata import InvalidInitData, chat_from_init_data
from core.config import Settings
from core.ports import ChatRef
from core.studio.canvas_links import InvalidCanvasToken, read_canvas_token

log = logging.getLogger(__name__)

INIT_DATA_HEADER = "X-Telegram-Init-Data"
TOKEN_HEADER = "X-Canvas-Token"


class Unauthorized(Exception):
    """Neither a valid initData nor a valid link: answered 401, and nothing is stored."""


class CanvasAuth:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def chat(self, init_data: str | None, token: str | None) -> ChatRef:
        """The member a request speaks for; ``Unauthorized`` when it proves nobody."""
        if init_data:
            return self._telegram(init_data)
        if token:
            return self._link(token)
        raise Unauthorized("no init_data and no token")

    def from_headers(self, headers: Mapping[str, str]) -> ChatRef:
        return self.chat(headers.get(INIT_DATA_HEADER), headers.get(TOKEN_HEADER))

    def _telegram(self, init_data: str) -> ChatRef:
        token = self._settings.telegram.token
        if token is None:
            raise Unauthorized("initData, but no Telegram bot is configured")
        try:
            return chat_from_init_data(
                init_data,
                token.get_secret_value(),
                max_age_s=self._settings.web.init_data_max_age_s,
                default_lang=self._settings.default_language,
            )
        except InvalidInitData as error:
            log.info("canvas request refused: Telegram initData %s", error)
            raise Unauthorized(str(error)) from error

    def _link(self, token: str) -> ChatRef:
        secret = self._settings.web.secret
        if secret is None:
            raise Unauthorized("a canvas link, but no ATELIER_WEB__SECRET")
        try:
            return read_canvas_token(secret.get_secret_value(), token)
        except InvalidCanvasToken as error:
            log.info("canvas request refused: link %s", error)
            raise Unauthorized(str(error)) from error
