"""A real S3 HTTP server for the blob store's tests: moto in server mode, in a process of its own on a free
port, or the server ``ATELIER_TEST_S3_ENDPOINT`` names (MinIO, Ceph) with the ``AWS_*`` credentials of the
environment. ``FlakyProxy`` stands in front of it and answers the first requests it is told to fail with
500, as a real server does in a bad minute."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# moto accepts any credentials; these never reach a real account.
MOTO_ACCESS_KEY = "AKIAATELIERTESTKEY00"
MOTO_SECRET_KEY = "atelier-test-secret-that-must-never-be-logged"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    bucket: str = ""  # the test run's own, once made


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def start_s3_server() -> Iterator[S3Server]:
    """The server named by ``ATELIER_TEST_S3_ENDPOINT``, else a moto server process started for the run."""
    endpoint = os.environ.get("ATELIER_TEST_S3_ENDPOINT")
    if endpoint:
        yield S3Server(
            endpoint.rstrip("/"),
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
        return
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_it_answers(url, process)
        yield S3Server(url, MOTO_ACCESS_KEY, MOTO_SECRET_KEY)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_it_answers(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the moto server exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"the moto server at {url} did not answer within {timeout_s:.0f} s")


class FlakyProxy:
    """An HTTP proxy in a thread that forwards every request to ``upstream`` except the next ``fail_next(n)``
    ones, which it answers with 500 InternalError itself. ``requests`` counts what reached it."""

    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self._host, self._port = target.hostname or "127.0.0.1", target.port or 80
        self._failures = 0
        self._lock = threading.Lock()
        self.requests: list[tuple[str, int]] = []  # (method, status answered)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="flaky-s3-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _take_failure(self) -> bool:
        with self._lock:
            if self._failures <= 0:
                return False
            self._failures -= 1
            return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:  # quiet
                pass

            def _forward(self) -> None:
                body = self._read_body()
                if proxy._take_failure():
                    error = b"<Error><Code>InternalError</Code><Message>Try again.</Message></Error>"
                    proxy.requests.append((self.command, 500))  # counted before the client hears
                    self._answer(500, [("Content-Type", "application/xml")], error)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
                headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(proxy._host, proxy._port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    head = self.command == "HEAD"  # its Content-Length is the object's, not the body's
                    skip = {"transfer-encoding", "connection"} | (set() if head else {"content-length"})
                    kept = [(k, v) for k, v in response.getheaders() if k.lower() not in skip]
                    proxy.requests.append((self.command, response.status))
                    self._answer(response.status, kept, payload, head=head)
                finally:
                    upstream.close()

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(
                self, status: int, headers: list[tuple[str, str]], payload: bytes, head: bool = False
            ) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                if not any(k.lower() == "content-length" for k, _ in headers):
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if not head:
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        return Handler
