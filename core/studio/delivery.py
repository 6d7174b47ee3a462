"""Delivery of finished jobs to the chats they came from, from durable state.

The Deliverer never relies on an in-memory callback: at start-up it delivers every finished job that has no
delivery yet (so a bot restart loses nothing), then reacts to worker events (fast path) and sweeps the
database periodically (the events are lossy). Each delivery is claimed in the database first and marked sent
afterwards (``core.store.records``), so concurrent sweeps, several bot processes or a replayed event never
send one result twice.

Texts are rendered here, in the user's language, from ``core.messages``; senders only send. A sender raises
``Undeliverable`` when the chat is gone (the user blocked the bot), or ``Rejected`` when the platform refused
a message for good (a permanent 4xx: the same request would get the same answer): the job is marked
undeliverable and never retried. Any other send error (flood control that did not end, a 5xx, the network)
is retried later with exponential backoff, up to ``max_send_attempts``.

A result can take several messages (the photo, the full-resolution file, the /suit sheet). The sender sends
each through ``SentParts`` (``core.studio.sent_parts``), which records it once the platform took it, so a
retry after a failure in the middle resumes with the next part and never sends the photo twice. The record
goes once the delivery has ended.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import uuid
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.blobs import extra_result_key
from core.events import RESYNC
from core.kinds import KINDS
from core.messages import t
from core.metrics import DELIVERIES, DELIVERY_RETRIES
from core.ports import BlobStore, EventBus, JobState, JobView
from core.store import JobNotFound, JobStore
from core.store.models import utcnow
from core.studio.buttons import job_buttons
from core.studio.commands import Buttons
from core.studio.sent_parts import SentParts, forget_sent_parts, load_sent_parts

log = logging.getLogger(__name__)

# Error keys that are whole sentences; any other key (a UserError from a pipeline) is the reason inside
# "job.failed".
_SENTENCE_KEYS = frozenset({"job.crashed", "job.timed_out", "job.cancelled", "error.internal", "error.busy"})


class Undeliverable(Exception):
    """The user blocked the bot / the chat is gone: mark undeliverable, never retry."""


class Rejected(Undeliverable):
    """The platform refused a message for good (a permanent 4xx: too long, a file it will not take, a
    permission the bot lacks): the same request would be refused again, so it is not retried. Unlike a
    blocked user it points at a bug of ours or a setting of the chat, so it is logged as an error."""


@dataclass(frozen=True)
class Attachment:
    """A further result file sent after the main one (the /suit print sheet)."""

    name: str  # "sheet"; also the file name's suffix
    data: bytes  # PNG
    caption: str


class ResultSender(Protocol):
    """A front end's way of answering a finished job. A sender that sends several messages sends each
    through ``parts`` (a fresh, unrecorded ``SentParts`` when ``None``)."""

    platform: str

    # Edit the status message (best effort); ``buttons`` replace the ones it had (Cancel while running).
    async def show_progress(self, job: JobView, text: str, buttons: Buttons = ()) -> None: ...
    async def send_result(
        self,
        job: JobView,
        result_png: bytes,
        caption: str,
        attachments: Sequence[Attachment] = (),
        buttons: Buttons = (),
        parts: SentParts | None = None,
    ) -> None: ...
    # A reply that is only a sentence.
    async def send_text(self, job: JobView, text: str, parts: SentParts | None = None) -> None: ...


def progress_text(job: JobView) -> str:
    lang = job.chat.lang
    if job.kind == "train" and job.stage == "train":
        return _training_progress(job)
    stage = t(f"stage.{job.stage}", lang) if job.stage and _known(f"stage.{job.stage}") else (job.stage or "")
    return t("job.running", lang, stage=stage, percent=int(round(job.progress * 100)))


def _training_progress(job: JobView) -> str:
    """ "step 120 of 800, about 3 min left": the step from the job's progress and the planned steps, the
    time left from the pace so far."""
    lang, total = job.chat.lang, int((job.params.get("options") or {}).get("steps") or 0)
    step = int(round(job.progress * total)) if total else int(round(job.progress * 100))
    total = total or 100
    elapsed = (utcnow() - job.started_at).total_seconds() if job.started_at else 0.0
    left = elapsed * (1 - job.progress) / job.progress if job.progress > 0.01 else None
    if left is None:
        eta = "?"
    elif left >= 90:
        eta = t("train.eta_minutes", lang, minutes=int(round(left / 60)))
    else:
        eta = t("train.eta_seconds", lang, seconds=max(1, int(round(left))))
    return t("train.progress", lang, step=step, total=total, eta=eta)


def result_caption(job: JobView) -> str:
    lang, options = job.chat.lang, job.params.get("options") or {}
    # The kind's caption; a print format (/suit) is named in the user's language.
    name = t(f"suit.format.{options['format']}", lang) if options.get("format") else ""
    caption = t(KINDS[job.kind].caption, lang, format=name, dpi=options.get("dpi", 300))
    likeness = job.result.get("likeness")
    if isinstance(likeness, int | float):
        caption += "\n" + t("result.likeness", lang, distance=f"{likeness:.2f}")
    return caption


def notice_text(job: JobView) -> str | None:
    """The sentence a job without an image result reports (a selfie accepted, a model ready)."""
    notice = job.result.get("notice")
    if not isinstance(notice, dict) or "key" not in notice:
        return None
    return t(str(notice["key"]), job.chat.lang, **dict(notice.get("params") or {}))


def attachment_caption(job: JobView, name: str) -> str:
    options, lang = job.params.get("options") or {}, job.chat.lang
    paper = t(f"suit.paper.{options['paper']}", lang) if "paper" in options else ""
    return t(f"result.{name}", lang, dpi=options.get("dpi", 300), paper=paper)


def failure_text(job: JobView) -> str:
    """The failure sentence for a failed job, in the user's language."""
    lang, key, params = job.chat.lang, job.error_key or "error.internal", dict(job.error_params)
    try:
        if key in _SENTENCE_KEYS:
            return t(key, lang, **params)
        if job.kind == "selfie" and key.startswith("train.selfie."):
            return t("train.selfie_rejected", lang, reason=t(key, lang, **params))
        return t("job.failed", lang, reason=t(key, lang, **params))
    except (KeyError, IndexError, ValueError):
        log.error("job %s failed with an unrenderable error %r %r", job.id, key, params)
        return t("error.internal", lang, error_id=params.get("error_id") or job.id[:8])


def _known(key: str) -> bool:
    try:
        t(key)
    except KeyError:
        return False
    return True


class Deliverer:
    def __init__(
        self,
        store: JobStore,
        blobs: BlobStore,
        events: EventBus | None,
        senders: dict[str, ResultSender],
        *,
        sweep_interval_s: float = 2.0,
        progress_interval_s: float = 1.0,
        send_timeout_s: float = 120.0,
        claim_stale_s: float = 600.0,
        max_send_attempts: int = 12,
        concurrency: int = 8,
    ) -> None:
        if claim_stale_s <= send_timeout_s:
            raise ValueError("claim_stale_s must exceed send_timeout_s, or a slow send could be duplicated")
        self.store, self.blobs, self.events, self.senders = store, blobs, events, senders
        self.sweep_interval_s = sweep_interval_s
        self.progress_interval_s = progress_interval_s
        self.send_timeout_s = send_timeout_s
        self.claim_stale_s = claim_stale_s
        self.max_send_attempts = max_send_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_edit: dict[str, float] = {}
        self._last_text: dict[str, str] = {}
        self._edit_pending: set[str] = set()

    async def run(self) -> None:
        """Forever: deliver what the database says is undelivered, then follow events and sweep."""
        await self._guarded(self.deliver_pending())
        loops = [self._sweep_forever()]
        if self.events is not None:
            loops.append(self._follow_events(self.events))
        try:
            await asyncio.gather(*loops)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def deliver_pending(self) -> int:
        """Deliver every due finished job now; returns how many this call delivered."""
        jobs = await asyncio.to_thread(
            self.store.undelivered, list(self.senders), stale_after_s=self.claim_stale_s
        )
        results = await asyncio.gather(*(self.deliver(job.id) for job in jobs))
        return sum(results)

    async def deliver(self, job_id: str) -> bool:
        """Deliver one finished job if nobody else has; ``True`` when this call sent it."""
        async with self._slots:
            try:
                job = await asyncio.to_thread(self.store.get, job_id)
            except JobNotFound:
                return False
            sender = self.senders.get(job.chat.platform)
            if sender is None or job.state not in (JobState.DONE, JobState.FAILED):
                return False
            self._forget(job_id)
            token = await asyncio.to_thread(
                self.store.claim_delivery, job_id, stale_after_s=self.claim_stale_s
            )
            if token is None:
                return False
            if job.params.get("to_chat") is False:  # read where it was asked for (a canvas preview)
                await asyncio.to_thread(self.store.mark_sent, job_id, token)
                return False
            try:
                parts = await asyncio.to_thread(load_sent_parts, self.blobs, job_id)
                await asyncio.wait_for(self._send(sender, job, parts), timeout=self.send_timeout_s)
            except Undeliverable as error:
                outcome = "rejected" if isinstance(error, Rejected) else "undeliverable"
                DELIVERIES.labels(job.chat.platform, outcome).inc()
                if isinstance(error, Rejected):
                    log.error("job %s: the platform refused the result for good: %s", job_id, error)
                else:
                    log.info("job %s undeliverable: %s", job_id, error)
                await asyncio.to_thread(
                    self.store.mark_undeliverable, job_id, token, str(error) or "undeliverable"
                )
                await asyncio.to_thread(forget_sent_parts, self.blobs, job_id)
                return False
            except Exception as error:
                await self._retry_later(job, token, error)
                return False
            except asyncio.CancelledError:
                # Shutting down mid-send: give the claim back so the next start delivers at once instead of
                # waiting for the claim to go stale (blocking, but one short UPDATE).
                self.store.retry_delivery_later(job_id, token, delay_s=0, error="interrupted by shutdown")
                raise
            await asyncio.to_thread(self.store.mark_sent, job_id, token)
            DELIVERIES.labels(job.chat.platform, "sent").inc()
            await asyncio.to_thread(forget_sent_parts, self.blobs, job_id)
        # The status message said "working" and had a Cancel button: the last word on it, without buttons.
        # Best effort: the result (or the reason) is already there.
        final = t("job.done" if job.state is JobState.DONE else "job.ended", job.chat.lang)
        try:
            await asyncio.wait_for(sender.show_progress(job, final), self.send_timeout_s)
        except Exception as error:
            log.debug("final status edit for job %s skipped: %s", job_id, error)
        return True

    async def _send(self, sender: ResultSender, job: JobView, parts: SentParts) -> None:
        lang = job.chat.lang
        if job.state is JobState.DONE and job.result_key is None:
            text = notice_text(job)
            if text is None:
                log.error("job %s finished with neither an image nor a notice", job.id)
                text = t("error.internal", lang, error_id=job.id[:8])
            await sender.send_text(job, text, parts)
        elif job.state is JobState.DONE:
            try:
                png = await asyncio.to_thread(self.blobs.get, job.result_key or "")
            except (OSError, ValueError):
                error_id = uuid.uuid4().hex[:8]
                log.exception("job %s: result %r unreadable (error id %s)", job.id, job.result_key, error_id)
                await sender.send_text(job, t("error.internal", lang, error_id=error_id), parts)
                return
            attachments = await asyncio.to_thread(self._attachments, job)
            await sender.send_result(job, png, result_caption(job), attachments, job_buttons(job), parts)
        else:
            await sender.send_text(job, failure_text(job), parts)

    def _attachments(self, job: JobView) -> list[Attachment]:
        return [
            Attachment(name, self.blobs.get(extra_result_key(job.id, name)), attachment_caption(job, name))
            for name in KINDS[job.kind].extra_results
        ]

    async def _retry_later(self, job: JobView, token: str, error: Exception) -> None:
        job_id, platform = job.id, job.chat.platform
        record = await asyncio.to_thread(self.store.delivery, job_id)
        attempts = record.attempts if record is not None else 1
        reason = f"{type(error).__name__}: {error}"
        if attempts >= self.max_send_attempts:
            log.error("job %s: giving up delivery after %d attempts (%s)", job_id, attempts, reason)
            DELIVERIES.labels(platform, "given_up").inc()
            await asyncio.to_thread(self.store.mark_undeliverable, job_id, token, reason)
            await asyncio.to_thread(forget_sent_parts, self.blobs, job_id)
            return
        delay = min(600.0, 5.0 * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)
        log.warning("job %s: delivery failed (%s); retrying in %.0f s", job_id, reason, delay)
        DELIVERY_RETRIES.labels(platform).inc()
        await asyncio.to_thread(self.store.retry_delivery_later, job_id, token, delay_s=delay, error=reason)

    async def show_progress(self, job_id: str) -> None:
        """Edit the job's status message with its current stage, at most once per ``progress_interval_s``
        per job; an event inside the window schedules one trailing edit with the newest state."""
        if job_id in self._edit_pending:
            return
        self._edit_pending.add(job_id)
        try:
            wait = self._last_edit.get(job_id, -math.inf) + self.progress_interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            job = await asyncio.to_thread(self.store.get, job_id)
            sender = self.senders.get(job.chat.platform)
            text = progress_text(job)
            if sender is None or job.state is not JobState.RUNNING or self._last_text.get(job_id) == text:
                return
            self._last_edit[job_id] = time.monotonic()
            self._last_text[job_id] = text
            await asyncio.wait_for(
                sender.show_progress(job, text, job_buttons(job)), timeout=self.send_timeout_s
            )
        except Exception as error:  # progress is best effort; the result is what matters
            log.debug("progress edit for job %s skipped: %s", job_id, error)
        finally:
            self._edit_pending.discard(job_id)

    async def _follow_events(self, events: EventBus) -> None:
        while True:  # the periodic sweep covers for lost events; the listener only has to come back
            try:
                async for job_id, event in events.listen():
                    if event == RESYNC:
                        self._spawn(self.deliver_pending())
                    elif event == "progress":
                        self._spawn(self.show_progress(job_id))
                    elif event in ("done", "failed"):
                        self._spawn(self.deliver(job_id))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job event listener failed; restarting it")
            await asyncio.sleep(self.sweep_interval_s)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            await self._guarded(self.deliver_pending())

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Awaitable[Any]) -> None:
        """Run ``work``; a failure is logged and never stops the delivery loops (the next sweep retries)."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery step failed")

    def _forget(self, job_id: str) -> None:
        self._last_edit.pop(job_id, None)
        self._last_text.pop(job_id, None)
