"""A local fake of the Telegram Bot API, served over real HTTP on 127.0.0.1.

The real bot client (python-telegram-bot over httpx) talks to it exactly as it talks to Telegram:
``{url}/bot{token}/{method}`` for methods (form-encoded or multipart bodies, JSON answers in Telegram's
shapes) and ``{url}/file/bot{token}/{path}`` for downloads. Tests inject user updates, wait for what the bot
sent, and switch on failures (a 429 with ``retry_after`` once, a chat that blocked the bot).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.e2e import telegram_shapes as shapes
from tests.e2e.fake_bot_http import ApiError, QuietServer, Upload, make_handler

TOKEN = "123456:TEST-fake-bot-token"


@dataclass
class Sent:
    """One call the bot made that produces or edits a message."""

    method: str
    params: dict[str, Any]
    files: dict[str, Upload]
    message: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> int:
        return int(self.params["chat_id"])

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def reply_to(self) -> int | None:
        reply = self.params.get("reply_parameters") or {}
        return reply.get("message_id") or self.params.get("reply_to_message_id")


@dataclass
class _Failure:
    method: str
    chat_id: int | None
    code: int
    description: str
    retry_after: int | None
    remaining: int


class FakeBotAPI:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.bot_user = shapes.user(7000001, "Atelier", is_bot=True, username="atelier_test_bot")
        self.cond = threading.Condition()
        self.updates: list[dict[str, Any]] = []
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, float]] = []
        self.downloads: list[str] = []
        self.commands: dict[str, list[dict[str, str]]] = {}
        # Menus set for one chat (BotCommandScopeChat), by (chat id, language code).
        self.chat_commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.answered: list[dict[str, Any]] = []  # answerCallbackQuery calls
        self.bot_messages: dict[int, dict[str, Any]] = {}
        self.confirmed_offset = 0
        self._files: dict[str, tuple[str, bytes | None, int]] = {}  # file_id -> (path, bytes, declared size)
        self._failures: list[_Failure] = []
        self._blocked: set[int] = set()
        self._update_ids = itertools.count(100001)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._closing = False
        self._server = QuietServer(("127.0.0.1", 0), make_handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-bot-api",
            daemon=True,
        )

    # --- life cycle ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeBotAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.cond:
            self._closing = True
            self.cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what users do ------------------------------------------------------------------------------------
    def add_file(self, data: bytes, *, path_prefix: str = "photos", declared_size: int | None = None) -> dict:
        """Store bytes as a Telegram file; returns the file fields (``file_id``...) to put in a message."""
        n = next(self._file_ids)
        file_id, unique = f"AgACAgIAAxkBAAI{n:06d}", f"AQAD{n:06d}"
        size = len(data) if declared_size is None else declared_size
        with self.cond:
            self._files[file_id] = (f"{path_prefix}/file_{n}.bin", data, size)
        return {"file_id": file_id, "file_unique_id": unique, "file_size": size}

    def expire_file(self, file_id: str) -> None:
        """getFile still answers for ``file_id``, but downloading it gives 404 (Telegram's links expire)."""
        with self.cond:
            path, _, size = self._files[file_id]
            self._files[file_id] = (path, None, size)

    def user_message(self, chat_id: int, *, lang: str = "en", **fields: Any) -> dict[str, Any]:
        message = shapes.message(next(self._message_ids), chat_id, shapes.user(chat_id, "Mina", lang=lang))
        message.update(fields)
        return message

    def text_message(
        self, chat_id: int, text: str, *, lang: str = "en", reply_to: dict | None = None
    ) -> dict:
        fields: dict[str, Any] = {"text": text, **shapes.command_entities("entities", text)}
        if reply_to is not None:
            fields["reply_to_message"] = reply_to
        return self.user_message(chat_id, lang=lang, **fields)

    def photo_message(
        self,
        chat_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        lang: str = "en",
        declared_size: int | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """A photo message; photos sharing a ``media_group_id`` are one album, as Telegram sends it (one
        message, and one update, per photo)."""
        sizes = shapes.photo_sizes(
            data, lambda part, size: self.add_file(part, declared_size=size), declared_size
        )
        album = {} if media_group_id is None else {"media_group_id": media_group_id}
        return self.user_message(chat_id, lang=lang, photo=sizes, **_caption(caption), **album)

    def document_message(
        self,
        chat_id: int,
        data: bytes,
        *,
        file_name: str,
        mime_type: str | None,
        caption: str | None = None,
        lang: str = "en",
        declared_size: int | None = None,
    ) -> dict[str, Any]:
        document = {
            **self.add_file(data, path_prefix="documents", declared_size=declared_size),
            "file_name": file_name,
        }
        if mime_type is not None:
            document["mime_type"] = mime_type
        return self.user_message(chat_id, lang=lang, document=document, **_caption(caption))

    def button_press(self, message: dict[str, Any], data: str, *, user_id: int | None = None) -> dict:
        """An update for a tap on the inline button with ``data`` under the bot's ``message``, by the chat's
        own user unless ``user_id`` says otherwise."""
        chat_id = int(message["chat"]["id"])
        presser = shapes.user(user_id or chat_id, "Mina")
        query = {"id": str(next(self._update_ids)), "from": presser, "chat_instance": "1", "data": data}
        return {"update_id": next(self._update_ids), "callback_query": query | {"message": message}}

    def answer_callback(self, params: dict[str, Any]) -> bool:
        with self.cond:
            self.answered.append(params)
        return True

    def update_of(self, message: dict[str, Any]) -> dict[str, Any]:
        """A new update (fresh ``update_id``) carrying ``message``."""
        return shapes.update(next(self._update_ids), message)

    def send_text(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.inject_message(self.text_message(chat_id, text, **kwargs))

    def send_photo(self, chat_id: int, data: bytes, **kwargs: Any) -> dict[str, Any]:
        return self.inject_message(self.photo_message(chat_id, data, **kwargs))

    def send_document(self, chat_id: int, data: bytes, **kwargs: Any) -> dict[str, Any]:
        return self.inject_message(self.document_message(chat_id, data, **kwargs))

    def inject_message(self, message: dict[str, Any]) -> dict[str, Any]:
        self.inject_update(self.update_of(message))
        return message

    def inject_update(self, update: dict[str, Any]) -> None:
        """Queue a raw update. Injecting one with an ``update_id`` seen before simulates a redelivery."""
        with self.cond:
            self.updates.append(update)
            self.cond.notify_all()

    # --- failure switches ---------------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        *,
        code: int = 429,
        retry_after: int = 1,
        chat_id: int | None = None,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``chat_id``, if given) fail with ``code``; a 429 carries
        ``retry_after`` as Telegram's flood control does."""
        if description is None:
            description = f"Too Many Requests: retry after {retry_after}" if code == 429 else "Bad Request"
        wait = retry_after if code == 429 else None
        with self.cond:
            self._failures.append(_Failure(method, chat_id, code, description, wait, times))

    def block_chat(self, chat_id: int) -> None:
        """The user of ``chat_id`` blocked the bot: every send to it answers 403."""
        with self.cond:
            self._blocked.add(chat_id)

    # --- observing the bot --------------------------------------------------------------------------------
    def wait_for(
        self, predicate: Callable[[Sent], bool], *, count: int = 1, timeout: float = 10.0
    ) -> list[Sent]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [s for s in self.sent if predicate(s)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(s.method, s.chat_id, s.text[:60]) for s in self.sent]
                    raise TimeoutError(f"waited {timeout} s for {count} matching sends; the bot sent {seen}")
                self.cond.wait(left)

    def wait_for_call(self, method: str, *, timeout: float = 10.0) -> float:
        """Monotonic time of the first call of ``method``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(m == method for m, _ in self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the bot did not call {method} within {timeout} s")
                self.cond.wait(left)
            return next(at for m, at in self.calls if m == method)

    def sent_to(self, chat_id: int, method: str | None = None) -> list[Sent]:
        with self.cond:
            return [s for s in self.sent if s.chat_id == chat_id and method in (None, s.method)]

    def count_calls(self, method: str) -> int:
        with self.cond:
            return sum(1 for m, _ in self.calls if m == method)

    # --- the API ------------------------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any], files: dict[str, Upload]) -> Any:
        with self.cond:
            self.calls.append((method, time.monotonic()))
            self.cond.notify_all()
            if method != "getUpdates":
                self._maybe_fail(method, params)
        if method == "getUpdates":
            return self._get_updates(params)
        handler = _METHODS.get(method)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(self, params, files)

    def _maybe_fail(self, method: str, params: dict[str, Any]) -> None:
        chat_id = params.get("chat_id")
        if chat_id is not None and int(chat_id) in self._blocked and method.startswith(("send", "edit")):
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        for failure in self._failures:
            if failure.method == method and failure.chat_id in (None, chat_id) and failure.remaining > 0:
                failure.remaining -= 1
                raise ApiError(failure.code, failure.description, failure.retry_after)

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self.cond:
            if offset:  # Telegram forgets every update below the offset: they are confirmed
                self.confirmed_offset = max(self.confirmed_offset, offset)
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.updates[: int(params.get("limit") or 100)])

    def record(self, method: str, params: dict[str, Any], files: dict[str, Upload], message: dict) -> dict:
        with self.cond:
            self.sent.append(Sent(method, params, files, message))
            self.bot_messages[message["message_id"]] = message
            self.cond.notify_all()
        return message

    def new_bot_message(self, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
        message = shapes.message(next(self._message_ids), int(params["chat_id"]), self.bot_user)
        reply_to = (params.get("reply_parameters") or {}).get("message_id")
        if reply_to:
            message["reply_to_message"] = shapes.message(reply_to, int(params["chat_id"]), None)
        message.update(fields)
        return message

    def set_commands(self, params: dict[str, Any]) -> bool:
        scope = params.get("scope") or {}
        scope = json.loads(scope) if isinstance(scope, str) else scope
        commands = params["commands"]
        commands = json.loads(commands) if isinstance(commands, str) else commands
        with self.cond:
            if scope.get("type") == "chat":
                self.chat_commands[(str(scope["chat_id"]), params.get("language_code", ""))] = commands
            else:
                self.commands[params.get("language_code", "")] = commands
        return True

    def file_info(self, file_id: str) -> dict[str, Any]:
        with self.cond:
            if file_id not in self._files:
                raise ApiError(400, "Bad Request: invalid file_id")
            path, _, size = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"U{file_id[-8:]}",
            "file_size": size,
            "file_path": path,
        }

    def file_bytes(self, path: str) -> bytes | None:
        with self.cond:
            self.downloads.append(path)
            return next((data for p, data, _ in self._files.values() if p == path), None)


def _caption(caption: str | None) -> dict[str, Any]:
    if caption is None:
        return {}
    return {"caption": caption, **shapes.command_entities("caption_entities", caption)}


def _markup(params: dict[str, Any]) -> dict[str, Any]:
    """The inline keyboard of a send or edit (form fields arrive JSON-encoded)."""
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    return {"reply_markup": markup} if markup else {}


def _send_message(api: FakeBotAPI, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
    fields = {"text": params["text"]} | _markup(params)
    return api.record("sendMessage", params, files, api.new_bot_message(params, **fields))


def _edit_message_text(api: FakeBotAPI, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
    with api.cond:
        current = api.bot_messages.get(int(params["message_id"]))
    if current is None or current["chat"]["id"] != int(params["chat_id"]):
        raise ApiError(400, "Bad Request: message to edit not found")
    if current.get("text") == params["text"] and current.get("reply_markup") == _markup(params).get(
        "reply_markup"
    ):
        raise ApiError(
            400,
            "Bad Request: message is not modified: specified new message content and reply "
            "markup are exactly the same as a current content and reply markup of the message",
        )
    edited = {**current, "text": params["text"], "edit_date": int(time.time())} | _markup(params)
    return api.record("editMessageText", params, files, edited)


def _send_media(kind: str) -> Callable[[FakeBotAPI, dict[str, Any], dict[str, Upload]], dict[str, Any]]:
    def send(api: FakeBotAPI, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        upload = files.get(kind)
        if upload is None:  # attach://name or a file_id re-send
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        stored = api.add_file(upload.data, path_prefix=f"{kind}s")
        if kind == "photo":
            media: Any = [{**stored, **shapes.image_size(upload.data)}]
        else:
            media = {**stored, "file_name": upload.filename, "mime_type": upload.content_type}
        fields = {kind: media, **({"caption": params["caption"]} if params.get("caption") else {})}
        method = "sendPhoto" if kind == "photo" else "sendDocument"
        return api.record(method, params, files, api.new_bot_message(params, **fields))

    return send


_METHODS: dict[str, Callable[[FakeBotAPI, dict[str, Any], dict[str, Upload]], Any]] = {
    "getMe": lambda api, params, files: api.bot_user,
    "deleteWebhook": lambda api, params, files: True,
    "setMyCommands": lambda api, params, files: api.set_commands(params),
    "answerCallbackQuery": lambda api, params, files: api.answer_callback(params),
    "sendChatAction": lambda api, params, files: True,
    "getFile": lambda api, params, files: api.file_info(params["file_id"]),
    "sendMessage": _send_message,
    "editMessageText": _edit_message_text,
    "sendPhoto": _send_media("photo"),
    "sendDocument": _send_media("document"),
}
