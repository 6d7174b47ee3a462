"""The job desk: submit work, remember pending commands, read and cancel jobs.

Methods are synchronous and short (database, blob store, one broker publish); async front ends call them with
``asyncio.to_thread``. The order inside ``submit`` is the reliability contract: clean the image, store
it, write the job row (``queued``) and only then enqueue. A crash before the enqueue leaves a queued row that
never runs but loses nothing the user was told about; a crash after it leaves a job the worker will run.
"""

from __future__ import annotations

import logging
import math
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.blobs import extra_input_key, input_key
from core.config import Settings
from core.errors import UserError
from core.imaging.idphoto.catalog import SuitOptions
from core.imaging.intake_pool import CleanPhoto, clean_photo
from core.kinds import KINDS, queue_of
from core.metrics import JOBS_ACCEPTED, counting_refusals
from core.ports import BlobStore, ChatRef, JobQueue, JobView
from core.store import PAUSED, ActiveCap, JobNotFound, JobStore, NewJob, OverCap, Pending
from core.store.models import utcnow

log = logging.getLogger(__name__)
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Submitted:
    job_id: str
    position: (
        int  # 1 = next to run; counted from the DB (queued/running jobs on the same queue created earlier)
    )
    duplicate: bool  # True when update_key was seen before: no new job, do not reply again


class JobDesk:
    """Submitting and tracking jobs: every kind goes in through ``submit`` or ``queue_job``."""

    def __init__(self, settings: Settings, store: JobStore, blobs: BlobStore, queue: JobQueue) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.queue = queue

    def submit_unmask(
        self,
        chat: ChatRef,
        image_bytes: bytes,
        *,
        update_key: str | None = None,
        reply_to_message_id: str | None = None,
    ) -> Submitted:
        """Raises ``UserError`` for a photo we refuse (intake) and ``UserError("error.busy")`` when the queue
        cannot take the job now."""
        return self.submit("unmask", chat, image_bytes, {}, {}, update_key, reply_to_message_id)

    def submit_suit(
        self,
        chat: ChatRef,
        image_bytes: bytes,
        options: SuitOptions,
        *,
        exemplar_bytes: bytes | None = None,
        update_key: str | None = None,
        reply_to_message_id: str | None = None,
    ) -> Submitted:
        """A /suit job with the user's options and, optionally, a picture of the suit to follow. Both images
        go through intake; errors as for ``submit_unmask``."""
        extras = {} if exemplar_bytes is None else {"exemplar": exemplar_bytes}
        return self.submit(
            "suit", chat, image_bytes, options.checked().as_params(), extras, update_key, reply_to_message_id
        )

    def submit_tryon(
        self,
        chat: ChatRef,
        photo: bytes | CleanPhoto,
        garment: bytes | CleanPhoto,
        *,
        update_key: str | None = None,
        reply_to_message_id: str | None = None,
    ) -> Submitted:
        """A /tryon job: the member's photo and a picture of the top to put on them. Either may be a photo
        held since it arrived (``core.studio.held``), already through intake; errors as for
        ``submit_unmask``."""
        return self.submit("tryon", chat, photo, {}, {"garment": garment}, update_key, reply_to_message_id)

    def submit_sketch(
        self,
        chat: ChatRef,
        drawing: bytes | CleanPhoto,
        strength: float,
        *,
        seed: int | None = None,
        fast: bool = False,
        update_key: str | None = None,
        reply_to_message_id: str | None = None,
    ) -> Submitted:
        """A /sketch job: a face painted from the member's drawing. ``strength`` (0..1) is how closely the
        face follows the drawing; ``fast`` asks for the quick preview quality: a preview is shown where it
        was drawn (the canvas) and never delivered to the chat. Errors as for ``submit_unmask``."""
        if not 0.0 <= strength <= 1.0:
            raise UserError("sketch.strength")
        options: dict[str, Any] = {"strength": float(strength), "fast": bool(fast)}
        if seed is not None:
            options["seed"] = int(seed)
        return self.submit(
            "sketch", chat, drawing, options, {}, update_key, reply_to_message_id, to_chat=not fast
        )

    def submit(
        self,
        kind: str,
        chat: ChatRef,
        image_bytes: bytes | CleanPhoto,
        options: dict[str, Any],
        extra_images: Mapping[str, bytes | CleanPhoto],
        update_key: str | None,
        reply_to_message_id: str | None,
        *,
        to_chat: bool = True,
    ) -> Submitted:
        """A job of ``kind`` on the user's photo and the named ``extra_images`` its kind takes. Uploaded bytes
        go through intake here; a ``CleanPhoto`` went through it when it arrived. A job not ``to_chat`` is
        never delivered (``core.studio.delivery``): whoever asked reads its result from the store."""
        unknown = set(extra_images) - set(KINDS[kind].extra_inputs)
        if unknown:
            raise ValueError(f"a {kind} job takes no {sorted(unknown)} (core/kinds.py)")
        with counting_refusals(kind):
            return self._submit(
                kind, chat, image_bytes, options, extra_images, update_key, reply_to_message_id, to_chat
            )

    def _submit(
        self,
        kind: str,
        chat: ChatRef,
        image_bytes: bytes | CleanPhoto,
        options: dict[str, Any],
        extra_images: Mapping[str, bytes | CleanPhoto],
        update_key: str | None,
        reply_to_message_id: str | None,
        to_chat: bool,
    ) -> Submitted:
        seen = self.seen(update_key)
        if seen is not None:
            return seen
        self.check_open()
        self.check_quota(chat, kind)
        clean = self._clean(image_bytes)
        extras = {name: self._clean(data) for name, data in extra_images.items()}
        job_id = uuid.uuid4().hex
        keys = {name: extra_input_key(job_id, name) for name in extras}
        self.blobs.put(input_key(job_id), clean.data)
        for name, image in extras.items():
            self.blobs.put(keys[name], image.data)
        params = {"source_format": clean.source_format, "width": clean.width, "height": clean.height}
        if not to_chat:
            params["to_chat"] = False
        return self.queue_job(
            NewJob(
                id=job_id,
                kind=kind,
                queue=queue_of(kind),
                chat=chat,
                input_key=input_key(job_id),
                params=params | {"options": options, "inputs": keys},
                update_key=update_key,
                reply_to_message_id=reply_to_message_id,
            )
        )

    def _clean(self, image: bytes | CleanPhoto) -> CleanPhoto:
        return image if isinstance(image, CleanPhoto) else clean_photo(image, self.settings.intake)

    def _active_cap(self, kind: str) -> ActiveCap | None:
        """The per-user cap the store enforces as it writes the row (``check_quota`` only looks ahead)."""
        if not KINDS[kind].quota:
            return None
        kinds = tuple(name for name, spec in KINDS.items() if spec.quota)
        return ActiveCap(kinds, self.settings.studio.max_active_per_user)

    def check_open(self) -> None:
        """``UserError("studio.paused")`` while an operator has paused the studio (/admin pause): queued and
        running jobs go on, new ones wait for /admin resume."""
        if self.store.switch(PAUSED):
            raise UserError("studio.paused")

    def check_quota(self, chat: ChatRef, kind: str) -> None:
        """``UserError`` saying when to come back, when a job of ``kind`` now would pass one of the studio's
        quotas (``StudioSettings``). The counts come from the job database, which every bot process shares;
        two submissions in the same instant may both pass the last free place."""
        if not KINDS[kind].quota:
            return
        limits, now = self.settings.studio, utcnow()
        kinds = [name for name, spec in KINDS.items() if spec.quota]
        counts = self.store.quota_counts(chat.platform, chat.user_id, chat.chat_id, kinds, now - _HOUR)
        if counts.user_active >= limits.max_active_per_user:
            raise UserError("quota.active", count=counts.user_active)
        if counts.user_recent >= limits.max_jobs_per_hour:
            free_at = (counts.oldest_recent or now) + _HOUR
            minutes = max(1, math.ceil((free_at - now).total_seconds() / 60))
            raise UserError("quota.hourly", count=counts.user_recent, minutes=minutes)
        if counts.chat_active >= limits.max_active_per_chat:
            raise UserError("quota.chat", count=counts.chat_active)
        if counts.queued >= limits.max_queued:
            raise UserError("quota.busy", count=counts.queued)

    def seen(self, update_key: str | None) -> Submitted | None:
        """The job an earlier copy of this chat update made, if any."""
        seen = None if update_key is None else self.store.job_by_update_key(update_key)
        return (
            None if seen is None else Submitted(seen.id, self.store.queue_position(seen.id), duplicate=True)
        )

    def queue_job(self, job: NewJob) -> Submitted:
        """Write the job row, then enqueue (see the module docstring for why in this order)."""
        chat, job_id = job.chat, job.id
        self.store.upsert_user(chat.platform, chat.user_id, chat.lang)
        try:
            created = self.store.create_job(job, self._active_cap(job.kind))
        except OverCap as over:  # another submission of this user's took the last place meanwhile
            for key in filter(None, [job.input_key, *(job.params.get("inputs") or {}).values()]):
                self.blobs.delete(key)
            raise UserError("quota.active", count=over.active) from None
        if not created:
            # The same update raced in twice; the other copy made the job.
            keys = [job.input_key, *(job.params.get("inputs") or {}).values()]
            for key in filter(None, keys):
                self.blobs.delete(key)
            seen = self.seen(job.update_key)
            assert seen is not None
            return seen
        position = self.store.queue_position(job_id)  # before enqueueing: a fast worker may start it at once
        try:
            self.queue.enqueue(job_id, job.queue, job.kind)
        except Exception:
            log.exception("could not enqueue job %s", job_id)
            self.store.reject_queued(job_id, "error.busy")
            raise UserError("error.busy") from None
        log.info("job %s queued (%s, position %d)", job_id, job.kind, position)
        JOBS_ACCEPTED.labels(job.kind).inc()
        return Submitted(job_id, position, duplicate=False)

    def set_status_message(self, job_id: str, message_id: str) -> None:
        """The "Queued (position N)" message the Deliverer edits with progress."""
        self.store.set_status_message(job_id, message_id)

    def expect_photo(
        self,
        chat: ChatRef,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        ttl_s: float | None = None,
    ) -> None:
        """Remember "/unmask now, the photo in a later message" (with the command's options) for the TTL in
        the settings, or ``ttl_s`` (a request put back as it was keeps only what was left of its time)."""
        ttl = self.settings.studio.pending_command_ttl_s if ttl_s is None else ttl_s
        self.store.expect_command(chat.platform, chat.chat_id, chat.user_id, command, ttl, options)

    def expected(self, chat: ChatRef) -> Pending | None:
        """The pending command for this chat member, if any and not expired; left in place."""
        return self.store.peek_command(chat.platform, chat.chat_id, chat.user_id)

    def take_expected(self, chat: ChatRef) -> Pending | None:
        """The pending command for this chat member, if any and not expired; clears it."""
        return self.store.take_command(chat.platform, chat.chat_id, chat.user_id)

    def change_expected(self, chat: ChatRef, command: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Change the options of this member's pending ``command`` (buttons under "now send the photo");
        ``None`` when it is no longer pending."""
        return self.store.update_pending_params(chat.platform, chat.chat_id, chat.user_id, command, changes)

    def job(self, job_id: str) -> JobView:
        """Raises ``core.store.JobNotFound`` for an unknown id."""
        return self.store.get(job_id)

    def position(self, job_id: str) -> int:
        """Current queue position (0 once the job is no longer waiting)."""
        return self.store.queue_position(job_id)

    def active_jobs(self, chat: ChatRef, limit: int | None = None) -> list[JobView]:
        """This user's queued and running jobs, newest first (the ``limit`` newest when given)."""
        return self.store.jobs_for_user(chat.platform, chat.user_id, limit=limit)

    def enqueue_waiting(self) -> int:
        """Hand every queued job to the queue again. A one-machine deployment calls this at start-up: a
        message accepted in the last second before a crash may be missing from the broker's append-only
        file, while the job row is durable. Duplicates are harmless (tasks are idempotent and leased)."""
        waiting = self.store.waiting()
        for job in waiting:
            self.queue.enqueue(job.id, job.queue, job.kind)
        return len(waiting)

    def own_job(self, chat: ChatRef, job_id: str) -> JobView:
        """The job ``job_id`` when it belongs to this member; ``UserError`` otherwise (a button pressed on
        someone else's job, a job deleted by /forget)."""
        try:
            job = self.store.get(job_id)
        except JobNotFound:
            raise UserError("job.gone") from None
        if (job.chat.platform, job.chat.user_id) != (chat.platform, chat.user_id):
            raise UserError("button.not_yours")
        return job

    def retry(self, chat: ChatRef, job_id: str, *, update_key: str | None = None) -> Submitted:
        """Paint a finished job of a retryable kind (/unmask, /suit, /tryon) again with a new random seed: a
        new job on copies of the original inputs (the old job and its result stay as they are)."""
        seen = self.seen(update_key)
        if seen is not None:
            return seen
        job = self.own_job(chat, job_id)
        with counting_refusals(job.kind):
            return self._retry(chat, job, update_key)

    def _retry(self, chat: ChatRef, job: JobView, update_key: str | None) -> Submitted:
        self.check_open()
        self.check_quota(chat, job.kind)
        inputs = {"": job.input_key, **(job.params.get("inputs") or {})}
        if not KINDS[job.kind].retryable or not all(self.blobs.exists(key) for key in inputs.values()):
            raise UserError("job.gone")
        new_id = uuid.uuid4().hex
        keys = {name: extra_input_key(new_id, name) for name in inputs if name}
        for name, key in inputs.items():
            self.blobs.put(keys[name] if name else input_key(new_id), self.blobs.get(key))
        options = dict(job.params.get("options") or {}) | {"seed": secrets.randbelow(2**31)}
        return self.queue_job(
            NewJob(
                id=new_id,
                kind=job.kind,
                queue=job.queue,
                chat=chat,
                input_key=input_key(new_id),
                params=job.params | {"options": options, "inputs": keys},
                update_key=update_key,
                reply_to_message_id=job.reply_to_message_id,
            )
        )

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; ``False`` when it had already finished. A running attempt stops
        at its next progress report. The caller tells the user; the Deliverer does not."""
        return self.store.cancel(job_id)

    def cancel_active(self, chat: ChatRef) -> list[JobView]:
        """Cancel every queued or running job of this user; the ones that were cancelled."""
        cancelled = [
            job for job in self.store.jobs_for_user(chat.platform, chat.user_id) if self.cancel(job.id)
        ]
        self.discard_queued([job.id for job in cancelled])
        return cancelled

    def discard_queued(self, job_ids: list[str]) -> None:
        discard = getattr(self.queue, "discard", None)
        if discard is None or not job_ids:
            return
        try:
            discard(job_ids)
        except Exception:  # the jobs are cancelled in the database: a worker that gets one skips it
            log.warning("could not remove %d cancelled job(s) from the broker", len(job_ids), exc_info=True)


class UnconfiguredQueue:
    """Stands in when ``bootstrap`` gets no queue: core cannot build the Celery adapter itself."""

    def enqueue(self, job_id: str, queue: str, kind: str) -> None:
        raise RuntimeError("no job queue configured: pass bootstrap(queue=jobs.queue.CeleryJobQueue(...))")
