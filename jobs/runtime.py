"""The worker runtime: what a Celery task does with a job id.

Per worker process (after the prefork ``fork``) it keeps one job store, one blob store, one event publisher
and one loaded pipeline per kind: models load once per process, never per task, and never in the parent
(CUDA cannot cross a ``fork``). Loading starts in the background when the pool child starts
(``worker_process_init``), so the first job usually finds its models ready; a job that arrives earlier waits.

``execute(job_id)`` is idempotent and safe under redelivery: it asks the job store whether to run at all
(attempt counter and lease, see ``core.store.jobstore``), reuses a result that a crashed attempt already
wrote, writes results atomically under keys derived from the job id, and flips ``running -> done`` with a
guarded update that succeeds once.

``register_pipeline`` lets benchmarks and tests plug another pipeline into a real worker process (register
in the worker's main process before the pool starts; children inherit it).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil
from celery.exceptions import SoftTimeLimitExceeded
from PIL import Image

from core.blobs import extra_result_key, mask_key, open_blob_store, read_rgb, result_key, result_keys
from core.config import Settings
from core.errors import UserError
from core.events import RedisEventBus
from core.imaging.backends.base import Identity
from core.imaging.idphoto.sheet import encode_png_at
from core.imaging.intake import encode_png
from core.imaging.moderation import ContentCheck
from core.imaging.pipelines.jobio import JobInputs, JobRunner
from core.kinds import KINDS
from core.metrics import JOBS_FAILED, JOBS_FINISHED, TIME_IN_QUEUE, observe_stages
from core.ports import JobState, JobView
from core.retention import purge_job
from core.store import AttemptAction, JobNotFound, JobStore
from jobs.broker import redis_url
from jobs.celery_app import hard_time_limit
from jobs.identities import job_identity

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]
# A lease outlives the hard time limit a little: by then the attempt has ended one way or the other.
LEASE_MARGIN_S = 60.0
PROGRESS_INTERVAL_S = 0.5
# The warm-up's pause between two pipelines, for a waiting job to take its turn.
_WARM_UP_PAUSE_S = 0.05


# Kinds whose result is a sentence for the user (``{"key", "params"}``), not an image.
NoticeTask = Callable[["WorkerContext", JobView, "ProgressReporter"], dict[str, Any]]
# Pipelines plugged in by ``register_pipeline``, before the kind table's own.
_registered: dict[str, Callable[[Settings], JobRunner]] = {}
_settings: Settings | None = None
_queues: tuple[str, ...] = ()


def register_pipeline(kind: str, factory: Callable[[Settings], JobRunner]) -> None:
    """Use ``factory(settings)`` to build the pipeline for jobs of ``kind`` in this worker."""
    _registered[kind] = factory


def _factory(kind: str) -> Callable[[Settings], JobRunner]:
    """The pipeline factory of an image kind (torch and friends load when it is first called)."""
    if kind in _registered:
        return _registered[kind]
    factory: Callable[[Settings], JobRunner] = KINDS[kind].load_runner()
    return factory


def _image_kinds() -> list[str]:
    return [name for name, kind in KINDS.items() if kind.result == "image"]


def configure(settings: Settings, queues: Iterable[str] = ()) -> None:
    """Called once in the worker's main process before the pool starts."""
    global _settings, _queues
    _settings, _queues = settings, tuple(queues)


class JobAborted(Exception):
    """The job was cancelled or taken over while this attempt ran: stop without touching its state."""


@dataclass(frozen=True)
class Outcome:
    action: AttemptAction
    retry_in_s: float = 0.0


class WorkerContext:
    """Everything one worker process needs; built lazily in the process that uses it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pid = os.getpid()
        self.owner = process_owner()
        self.store = JobStore(settings.resolved_database_url)
        self.blobs = open_blob_store(settings)
        self.events = RedisEventBus(redis_url(settings))
        self._pipelines: dict[str, JobRunner] = {}
        self._locks = {kind: threading.Lock() for kind in _image_kinds()}
        # Loading weights is not thread-safe: diffusers builds models on the meta device through
        # accelerate's ``init_empty_weights``, which patches ``torch.nn.Module`` for the whole process, so a
        # model a running job builds meanwhile (a detector's first call, a training's UNet) comes out empty.
        # The warm-up thread and a running job take turns under this lock.
        self.turn = threading.Lock()
        self.content_check = ContentCheck(settings.moderation) if settings.moderation.enabled else None

    def pipeline(self, kind: str) -> JobRunner:
        with self._locks.setdefault(kind, threading.Lock()):
            if kind not in self._pipelines:
                started = time.perf_counter()
                self._pipelines[kind] = _factory(kind)(self.settings)
                log.info("%s pipeline loaded in %.1f s", kind, time.perf_counter() - started)
            return self._pipelines[kind]

    def warm_up(self, kinds: Iterable[str]) -> threading.Thread:
        """Load the pipelines of ``kinds`` in a background thread, one at a time, each between jobs."""

        def load() -> None:
            for kind in kinds:
                try:
                    with self.turn:
                        self.pipeline(kind)
                except Exception:  # the job that needs it will report the error properly
                    log.exception("could not preload the %s pipeline", kind)
                # A job waiting for the turn goes first: a lock is not fair, and this loop would take it
                # straight back for the next pipeline.
                time.sleep(_WARM_UP_PAUSE_S)

        thread = threading.Thread(target=load, name="pipeline-warm-up", daemon=True)
        thread.start()
        return thread


_context: WorkerContext | None = None


def context() -> WorkerContext:
    global _context
    if _context is None or _context.pid != os.getpid():
        if _settings is None:
            raise RuntimeError("jobs.runtime.configure(settings) was not called in this worker")
        if _context is not None:
            # Inherited across fork: drop the parent's pooled connections without closing them under it.
            _context.store.engine.dispose(close=False)
        _context = WorkerContext(_settings)
    return _context


def on_process_start(**_: object) -> None:
    """``worker_process_init``: build this child's context and start loading its pipelines."""
    context().warm_up([kind for kind in _image_kinds() if KINDS[kind].queue in _queues])


def process_owner() -> str:
    """Who holds a job's lease: host, pid and the process start time (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{psutil.Process().create_time():.2f}"


def owner_alive(owner: str) -> bool:
    """Whether the lease owner still runs. Only answerable on the same host; elsewhere the lease expiry
    decides."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname():
        return True
    _, pid, started = parts
    try:
        process = psutil.Process(int(pid))
        return f"{process.create_time():.2f}" == started and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError):
        return False


class ProgressReporter:
    """The pipeline's progress callback: records the stage (throttled), extends the lease, publishes an
    event, and stops the attempt when the job was cancelled or taken over."""

    def __init__(self, ctx: WorkerContext, job_id: str, lease_s: float) -> None:
        self.ctx, self.job_id, self.lease_s = ctx, job_id, lease_s
        self._stage: str | None = None
        self._last = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage == self._stage and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._stage, self._last = stage, now
        if not self.ctx.store.report_progress(
            self.job_id, self.ctx.owner, stage, fraction, lease_s=self.lease_s
        ):
            raise JobAborted(self.job_id)
        self.ctx.events.publish(self.job_id, "progress")


def execute(job_id: str) -> Outcome:
    """Run one job (the body of every job task). Returns ``BUSY`` when another living process holds it."""
    ctx = context()
    settings = ctx.settings
    try:
        queue = ctx.store.get(job_id).queue
    except JobNotFound:
        log.warning("job %s does not exist (any more); dropping its message", job_id)
        return Outcome(AttemptAction.SKIP)
    lease_s = hard_time_limit(settings.worker, queue) + LEASE_MARGIN_S
    attempt = ctx.store.start_attempt(
        job_id, settings.worker.max_attempts, owner=ctx.owner, lease_s=lease_s, owner_alive=owner_alive
    )
    job = attempt.job
    if attempt.action is AttemptAction.ANNOUNCE:
        ctx.events.publish(job_id, "done")
    elif attempt.action is AttemptAction.CRASHED:
        log.error("job %s failed: its worker died in each of %d attempts", job_id, job.attempts)
        JOBS_FAILED.labels(job.kind, job.error_key or "job.crashed").inc()
        _purge_failed(ctx, job_id)
        ctx.events.publish(job_id, "failed")
    elif attempt.action is AttemptAction.BUSY:
        log.warning("job %s is held by a living worker; looking again in %.0f s", job_id, attempt.retry_in_s)
    if attempt.action is not AttemptAction.RUN:
        return Outcome(attempt.action, attempt.retry_in_s)

    log.info("job %s attempt %d started", job_id, job.attempts)
    _observe_wait(job)
    progress = ProgressReporter(ctx, job_id, lease_s)
    rkey, mkey = result_key(job_id), mask_key(job_id)
    spec = KINDS.get(job.kind)  # an unknown kind fails below, as a pipeline that cannot be built
    notice_task: NoticeTask | None = spec.load_runner() if spec and spec.result == "notice" else None
    result: dict[str, Any] = {}
    # An image job whose result exists was finished by an attempt that died before marking it done. Notice
    # tasks are idempotent themselves (a selfie is recorded once, a training resumes from its checkpoint).
    if notice_task is not None or not ctx.blobs.exists(rkey):
        try:
            with ctx.turn:  # never while the warm-up thread loads a pipeline
                if notice_task is not None:
                    result = {"notice": notice_task(ctx, job, progress)}
                else:
                    result = _run_pipeline(ctx, job, rkey, mkey, progress)
        except JobAborted:
            log.info("job %s attempt %d stopped: cancelled or taken over", job_id, job.attempts)
            return Outcome(AttemptAction.SKIP)
        except UserError as error:
            _fail(ctx, job, error.key, error.params)
            return Outcome(AttemptAction.RUN)
        except SoftTimeLimitExceeded:
            _fail(ctx, job, "job.timed_out", {})
            return Outcome(AttemptAction.RUN)
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            log.exception("job %s failed (error id %s)", job_id, error_id)
            _fail(ctx, job, "error.internal", {"error_id": error_id}, error_id=error_id)
            return Outcome(AttemptAction.RUN)
    written, written_mask = (None, None) if notice_task is not None else (rkey, mkey)
    if ctx.store.mark_done(job_id, written, written_mask, result):
        log.info("job %s done", job_id)
        JOBS_FINISHED.labels(job.kind).inc()
        ctx.events.publish(job_id, "done")
    elif written is not None and _abandoned(ctx, job_id):
        # Cancelled or forgotten during the last stage, after the last check: what this attempt wrote
        # belongs to no job any more.
        for key in result_keys(job_id, KINDS[job.kind].extra_results):
            ctx.blobs.delete(key)
        log.info("job %s was cancelled or deleted while it finished; its result is discarded", job_id)
    return Outcome(AttemptAction.RUN)


def _observe_wait(job: JobView) -> None:
    """Time in queue, once per job: a later attempt's start says nothing about the queue."""
    if job.attempts == 1 and job.created_at is not None and job.started_at is not None:
        TIME_IN_QUEUE.labels(job.kind).observe(max(0.0, (job.started_at - job.created_at).total_seconds()))


def _abandoned(ctx: WorkerContext, job_id: str) -> bool:
    """No job will ever point at this job's results: its row is gone, or ended some other way than done."""
    try:
        return ctx.store.get(job_id).state is not JobState.DONE
    except JobNotFound:
        return True


def fail_timed_out(job_id: str) -> None:
    """The hard time limit killed the attempt's process; called in the worker's main process."""
    ctx = context()
    try:
        kind = ctx.store.get(job_id).kind
    except JobNotFound:
        return
    if ctx.store.mark_failed(job_id, "job.timed_out", {}):
        log.error("job %s killed by the hard time limit", job_id)
        JOBS_FAILED.labels(kind, "job.timed_out").inc()
        _purge_failed(ctx, job_id)
        ctx.events.publish(job_id, "failed")


def _run_pipeline(
    ctx: WorkerContext, job: JobView, rkey: str, mkey: str, progress: ProgressReporter
) -> dict[str, Any]:
    runner = ctx.pipeline(job.kind)
    user_identity = job_identity(ctx.store, ctx.blobs, ctx.settings.models, job)
    _check_no_foreign_identity(runner, user_identity)
    if user_identity is not None:
        log.info(
            "job %s runs with its user's identity (adapter: %s, %d reference selfies)",
            job.id,
            "yes" if user_identity.adapter else "no",
            len(user_identity.references),
        )
    inputs = JobInputs(
        image=read_rgb(ctx.blobs, job.input_key),
        options=dict(job.params.get("options") or {}),
        extras={name: read_rgb(ctx.blobs, key) for name, key in (job.params.get("inputs") or {}).items()},
        identity=user_identity,
    )
    result = runner.run_job(inputs, progress)
    observe_stages(job.kind, result.timings)
    _withhold_flagged(ctx, job, [result.image, *result.extras.values()])

    def encode(image: Image.Image) -> bytes:
        return encode_png(image) if result.dpi is None else encode_png_at(image, result.dpi)

    # Extras and mask first: the result's existence is what tells a later attempt that all are complete.
    for name, extra in result.extras.items():
        ctx.blobs.put(extra_result_key(job.id, name), encode(extra.convert("RGB")))
    ctx.blobs.put(mkey, encode_png(result.edit_mask.convert("L")))
    ctx.blobs.put(rkey, encode(result.image.convert("RGB")))
    return dict(result.info)


def _withhold_flagged(ctx: WorkerContext, job: JobView, images: list[Image.Image]) -> None:
    """The content check (``core.imaging.moderation``) before anything is written: a flagged result fails
    the job with a neutral sentence and exists only in this attempt's memory."""
    if ctx.content_check is None:
        return
    for image in images:
        verdict = ctx.content_check.check(image)
        if verdict.flagged:
            log.warning(
                "job %s: result withheld by the content check (%s %.2f); nothing was stored",
                job.id,
                verdict.label,
                verdict.score,
            )
            raise UserError("moderation.flagged")


def _check_no_foreign_identity(runner: JobRunner, user_identity: Identity | None) -> None:
    """At job start no other user's adapter may be active in the warm pipeline. Finding one is a bug
    somewhere: unload everything (so the next job is safe) and fail this job."""
    loaded = getattr(runner, "loaded_identities", None)
    if loaded is None:
        return
    foreign = set(loaded()) - ({user_identity.name} if user_identity is not None else set())
    if foreign:
        runner.unload_identities()  # type: ignore[attr-defined]
        raise RuntimeError(f"{len(foreign)} foreign identity adapter(s) were active at job start; unloaded")


def _fail(
    ctx: WorkerContext, job: JobView, key: str, params: dict[str, object], error_id: str | None = None
) -> None:
    job_id = job.id
    if ctx.store.mark_failed(job_id, key, params, error_id=error_id):
        log.info("job %s failed: %s", job_id, key)
        JOBS_FAILED.labels(job.kind, key).inc()
        _purge_failed(ctx, job_id)
        ctx.events.publish(job_id, "failed")


def _purge_failed(ctx: WorkerContext, job_id: str) -> None:
    """A failed job's pictures go at once (``core.retention``); the failure notice needs none of them."""
    try:
        purge_job(ctx.store, ctx.blobs, ctx.store.get(job_id))
    except JobNotFound:
        pass
