"""Retention: how long the studio keeps a job's pictures.

A job's photo, its extra inputs and its results are deleted ``StudioSettings.keep_days`` after the job
ended, and at once when it failed or was cancelled (nothing will be delivered from them, and Try again is
offered only on finished results). The row stays, without pictures, so /status and the delivery history
still make sense; ``purged_at`` records when. Kinds that follow /train's own rules (a selfie becomes
training material the user agreed to keep until /forget) are left alone (``JobKind.retention``). A photo a
pending command holds until its second photo arrives (/tryon) goes once the request has lapsed.

Every worker runs ``purge_expired`` on its own timer (``jobs.reaper``); deleting is idempotent, so two
workers sweeping at once only repeat each other's deletes. /privacy states these rules to the user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.blobs import HELD_ROOT, delivery_parts_key, held_expiry, result_keys
from core.kinds import KINDS
from core.ports import BlobStore, JobView
from core.store import JobStore
from core.store.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeReport:
    jobs: int  # jobs whose pictures were deleted
    blobs: int  # keys deleted (including keys that were already gone)
    held: int = 0  # photos a pending command held, deleted when their time was up


def job_blob_keys(job: JobView) -> list[str]:
    """Every blob key a job may have read or written: the recorded ones, and the result keys derived from its
    id whether or not the row records them (an attempt may write them as the job is cancelled)."""
    spec = KINDS.get(job.kind)
    keys = [job.input_key, job.result_key, job.mask_key, *(job.params.get("inputs") or {}).values()]
    keys += result_keys(job.id, spec.extra_results if spec is not None else ())
    keys.append(delivery_parts_key(job.id))  # what a delivery in progress already sent
    return list(dict.fromkeys(key for key in keys if key))


def purge_job(store: JobStore, blobs: BlobStore, job: JobView) -> int:
    """Delete an ended job's pictures under the retention rule and record it; the number of keys deleted.
    Nothing for a kind with rules of its own, or a job that has not ended."""
    spec = KINDS.get(job.kind)
    if spec is None or not spec.retention:
        return 0
    keys = job_blob_keys(job)
    for key in keys:
        blobs.delete(key)
    if not store.mark_purged(job.id):
        return 0
    return len(keys)


def purge_held(blobs: BlobStore, now: datetime | None = None) -> int:
    """Delete the photos pending commands held whose time is up (``core.studio.held``): the second photo of a
    /tryon never came, the member asked for something else meanwhile, or the bot stopped in between. The
    time is in the key, so this needs no database. Anything else found there is deleted too: nothing else
    is written under ``HELD_ROOT``."""
    now = now or utcnow()
    gone = 0
    for key in blobs.keys(HELD_ROOT):
        expires = held_expiry(key)
        if expires is None or expires <= now:
            blobs.delete(key)
            gone += 1
    return gone


def purge_expired(
    store: JobStore, blobs: BlobStore, keep_days: float, now: datetime | None = None
) -> PurgeReport:
    """Delete the pictures of every job the retention rule has reached: done more than ``keep_days`` ago,
    failed or cancelled (in batches until none is left); and the held photos whose time is up."""
    held = purge_held(blobs, now)
    done_before = (now or utcnow()) - timedelta(days=keep_days)
    kinds = [name for name, spec in KINDS.items() if spec.retention]
    jobs = deleted = 0
    while batch := store.expired(kinds, done_before):
        progress = 0
        for job in batch:
            keys = purge_job(store, blobs, job)
            if keys:
                jobs, deleted, progress = jobs + 1, deleted + keys, progress + 1
        if not progress:
            break  # every one changed state under us (a concurrent sweep): the next round looks again
    if jobs:
        log.info("retention: deleted the pictures of %d job(s), %d file(s)", jobs, deleted)
    if held:
        log.info("retention: deleted %d held photo(s) nobody came back for", held)
    return PurgeReport(jobs=jobs, blobs=deleted, held=held)
