"""The HTTP side of the fake Bot API: request parsing (form, multipart, JSON) and the request handler."""

from __future__ import annotations

import email.message
import email.utils
import json
import sys
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

# Parameters PTB sends JSON-encoded (everything else is a plain string and stays one).
JSON_FIELDS = frozenset(
    "chat_id message_id offset limit timeout allowed_updates commands scope reply_parameters reply_markup "
    "reply_to_message_id disable_notification drop_pending_updates allow_sending_without_reply "
    "protect_content has_spoiler disable_content_type_detection entities caption_entities "
    "link_preview_options show_caption_above_media".split()
)


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


class QuietServer(ThreadingHTTPServer):
    """A client hanging up mid-answer (a capped download, a shutdown) is normal here, not an error."""

    daemon_threads = True
    # Telegram takes as many connections as a bot opens (python-telegram-bot pools up to 256); the standard
    # library's backlog of 5 would reset them under a burst.
    request_queue_size = 256

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Api(Protocol):
    """What the handler needs from the fake server."""

    token: str

    def call(self, method: str, params: dict[str, Any], files: dict[str, Upload]) -> Any: ...
    def file_bytes(self, path: str) -> bytes | None: ...


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
    raw: dict[str, str] = {}
    files: dict[str, Upload] = {}
    kind, options = _header_value(content_type)
    if kind == "multipart/form-data":
        for headers, data in _multipart_parts(body, options["boundary"]):
            _, disposition = _header_value(headers.get("content-disposition", ""))
            if "filename" in disposition:
                content = headers.get("content-type", "application/octet-stream")
                files[disposition["name"]] = Upload(disposition["filename"], content, data)
            else:
                raw[disposition["name"]] = data.decode()
    elif kind == "application/json":
        return json.loads(body or b"{}"), files
    else:
        raw = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    params = {k: json.loads(v) if k in JSON_FIELDS else v for k, v in raw.items()}
    return params, files


def _multipart_parts(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """RFC 7578 bodies, split on the boundary (the email package is exact but slow on binary uploads, and
    the fake must not dominate the latencies the benchmarks measure)."""
    parts = []
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, data.removesuffix(b"\r\n")))
    return parts


def _header_value(header: str) -> tuple[str, dict[str, str]]:
    """``form-data; name="photo"; filename="a.png"`` -> ``("form-data", {"name": "photo", ...})``."""
    message = email.message.Message()
    message["x"] = header
    (value, _), *params = message.get_params(header="x", failobj=[("", "")])
    return value.lower(), {k.lower(): str(email.utils.collapse_rfc2231_value(v)) for k, v in params}


def make_handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like Telegram
        # Headers and body go out in two writes; with Nagle on, the second waits for a delayed ACK (40 ms).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
            pass

        def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _api(self, path: str, body: bytes) -> None:
            prefix = f"/bot{api.token}/"
            if not path.startswith(prefix):
                self._answer(401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}')
                return
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            params, files = parse_body(self.headers.get("Content-Type", ""), body)
            params = {**{k: json.loads(v) if k in JSON_FIELDS else v for k, v in query.items()}, **params}
            try:
                answer: dict[str, Any] = {"ok": True, "result": api.call(path[len(prefix) :], params, files)}
                status = 200
            except ApiError as error:
                status = error.code
                answer = {"ok": False, "error_code": error.code, "description": error.description}
                if error.retry_after is not None:
                    answer["parameters"] = {"retry_after": error.retry_after}
            self._answer(status, json.dumps(answer).encode())

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            file_prefix = f"/file/bot{api.token}/"
            if path.startswith(file_prefix):
                data = api.file_bytes(path[len(file_prefix) :])
                if data is None:
                    self._answer(404, b'{"ok":false,"error_code":404,"description":"Not Found"}')
                else:
                    self._answer(200, data, "application/octet-stream")
                return
            self._api(path, b"")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            self._api(urllib.parse.unquote(urllib.parse.urlsplit(self.path).path), self.rfile.read(length))

    return Handler
