"""Ports: the small interfaces through which the core talks to the outside world.

Each has one real implementation and a test one. ``core`` owns these; ``jobs`` and ``bots`` implement the
queue and the chat side.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class ChatRef:
    """Who asked and where to answer, platform-neutral. Ids are strings on every platform."""

    platform: str  # "telegram", "discord", "console"
    user_id: str
    chat_id: str
    lang: str = "en"


@dataclass(frozen=True)
class JobView:
    """A read-only snapshot of a job row."""

    id: str
    kind: str
    queue: str
    state: JobState
    chat: ChatRef
    input_key: str
    result_key: str | None = None
    mask_key: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    progress: float = 0.0
    stage: str | None = None
    error_key: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)
    status_message_id: str | None = None
    reply_to_message_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # What the finished job reported besides images: {"notice": {"key": ..., "params": {...}}} for jobs
    # whose result is a sentence, {"likeness": 0.41} where an identity was used.
    result: dict[str, Any] = field(default_factory=dict)


class BlobStore(Protocol):
    """Inputs, results and other binary objects by key. Writes are atomic (temp + rename or equivalent)."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def keys(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> int: ...


class JobQueue(Protocol):
    """Hands a job id to the workers of ``queue`` (by task name; no heavy imports)."""

    def enqueue(self, job_id: str, queue: str, kind: str) -> None: ...


class EventBus(Protocol):
    """Fast, lossy notifications worker -> front ends (progress, finished). Durable state lives in the
    database; an event only says "look now"."""

    def publish(self, job_id: str, event: str) -> None: ...
    def listen(self) -> AsyncIterator[tuple[str, str]]: ...
