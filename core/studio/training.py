"""/train, /settings and /forget in the command core: consent, the selfie upload session, the training job,
per-user preferences and deleting everything about a user.

The upload session lives in the database (a pending ``/train`` command with a long expiry, the consent
record and the accepted selfies), so a bot restart in the middle of an upload loses nothing: the user goes on
sending photos. Each photo becomes a ``selfie`` job on the ``cpu`` queue (the checks need face models, which
the bot process does not load); its verdict comes back through the Deliverer like any result.

Ids, slugs and blob keys come from the authenticated platform user (``ChatRef``), never from what a user
typed (``core.identity``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from core import identity
from core.blobs import held_prefix
from core.config import Settings
from core.errors import UserError
from core.kinds import queue_of
from core.metrics import counting_refusals
from core.ports import BlobStore, ChatRef, JobState, JobView
from core.retention import job_blob_keys
from core.store import IdentityModelView, JobStore, NewJob, UserPrefs
from core.studio.jobdesk import JobDesk, Submitted

log = logging.getLogger(__name__)

TRAIN = "/train"
# The version of the consent text (``train.consent`` in the catalogue). Change it with the text: every user
# is asked again.
CONSENT_VERSION = "2026-11-1"
PREFERENCES = ("use_identity", "keep_selfies")


@dataclass(frozen=True)
class TrainingState:
    consented: bool
    collecting: bool  # an upload session is open
    selfies: int  # accepted so far
    checking: int  # photos still being checked
    training: JobView | None  # the user's queued or running training
    model: IdentityModelView | None  # the trained model for this deployment's base model


@dataclass(frozen=True)
class ForgetReport:
    selfies: int
    models: int
    jobs: int
    files: int
    cancelled: int


class IdentityDesk:
    """Consent, the selfie upload session, training, preferences and forgetting a user; jobs go through the
    job desk."""

    def __init__(self, jobs: JobDesk) -> None:
        self.jobs = jobs
        self.settings: Settings = jobs.settings
        self.store: JobStore = jobs.store
        self.blobs: BlobStore = jobs.blobs

    # --- the upload session -------------------------------------------------------------------------------
    def training_state(self, chat: ChatRef) -> TrainingState:
        pending = self.store.peek_command(chat.platform, chat.chat_id, chat.user_id)
        active = [
            job for job in self.store.jobs_for_user(chat.platform, chat.user_id) if not job.state.terminal
        ]
        return TrainingState(
            consented=self.store.has_consent(chat.platform, chat.user_id, CONSENT_VERSION),
            collecting=pending is not None and pending.command == TRAIN,
            selfies=self.store.selfie_count(chat.platform, chat.user_id),
            checking=sum(1 for job in active if job.kind == "selfie"),
            training=next((job for job in active if job.kind == "train"), None),
            model=self.store.identity_model(
                chat.platform, chat.user_id, identity.base_model_id(self.settings.models)
            ),
        )

    def begin_training(self, chat: ChatRef) -> TrainingState:
        """``/train``: open the upload session when the user has consented (else the caller shows the
        consent text first). ``UserError`` while a training of theirs is queued or running."""
        state = self.training_state(chat)
        if state.training is not None:
            raise UserError("train.already_training")
        if state.consented:
            self._open_session(chat)
            state = self.training_state(chat)
        return state

    def accept_consent(self, chat: ChatRef) -> TrainingState:
        """The consent button: record who agreed to which text, when; then open the session."""
        self.store.upsert_user(chat.platform, chat.user_id, chat.lang)
        if not self.store.has_consent(chat.platform, chat.user_id, CONSENT_VERSION):
            self.store.record_consent(chat.platform, chat.user_id, CONSENT_VERSION)
            log.info("consent %s recorded for a %s user", CONSENT_VERSION, chat.platform)
        return self.begin_training(chat)

    def collecting_selfies(self, chat: ChatRef) -> bool:
        pending = self.store.peek_command(chat.platform, chat.chat_id, chat.user_id)
        return pending is not None and pending.command == TRAIN

    def submit_selfie(
        self,
        chat: ChatRef,
        image_bytes: bytes,
        *,
        update_key: str | None = None,
        reply_to_message_id: str | None = None,
    ) -> Submitted:
        """One training selfie: checked on a worker, the verdict delivered as the job's result."""
        seen = self.jobs.seen(update_key)
        if seen is not None:
            return seen
        with counting_refusals("selfie"):
            return self._submit_selfie(chat, image_bytes, update_key, reply_to_message_id)

    def _submit_selfie(
        self, chat: ChatRef, image_bytes: bytes, update_key: str | None, reply_to_message_id: str | None
    ) -> Submitted:
        if not self.store.has_consent(chat.platform, chat.user_id, CONSENT_VERSION):
            raise UserError("train.consent_required")
        state = self.training_state(chat)
        limit = self.settings.train.max_selfies
        if state.selfies + state.checking >= limit:
            raise UserError("train.too_many", max=limit)
        self._open_session(chat)  # each photo keeps the session open
        return self.jobs.submit("selfie", chat, image_bytes, {}, {}, update_key, reply_to_message_id)

    def start_training(
        self, chat: ChatRef, *, update_key: str | None = None, reply_to_message_id: str | None = None
    ) -> Submitted:
        """``/done``: queue the training on the accepted selfies. At most one training per user and
        ``max_active`` in all."""
        seen = self.jobs.seen(update_key)
        if seen is not None:
            return seen
        with counting_refusals("train"):
            return self._start_training(chat, update_key, reply_to_message_id)

    def _start_training(
        self, chat: ChatRef, update_key: str | None, reply_to_message_id: str | None
    ) -> Submitted:
        state = self.training_state(chat)
        train = self.settings.train
        if not state.consented:
            raise UserError("train.consent_required")
        if state.training is not None:
            raise UserError("train.already_training")
        if state.checking:
            raise UserError("train.still_checking", count=state.checking)
        if state.selfies < train.min_selfies:
            raise UserError("train.need_more", have=state.selfies, need=train.min_selfies)
        if self.store.active_of_kind("train") >= train.max_active:
            raise UserError("train.busy")
        self.jobs.check_open()
        selfies = [selfie.id for selfie in self.store.selfies(chat.platform, chat.user_id)]
        job_id = uuid.uuid4().hex
        submitted = self.jobs.queue_job(
            NewJob(
                id=job_id,
                kind="train",
                queue=queue_of("train"),
                chat=chat,
                input_key="",
                params={
                    "options": {"selfies": selfies[: train.max_selfies], "steps": train.steps},
                    "inputs": {},
                },
                update_key=update_key,
                reply_to_message_id=reply_to_message_id,
            )
        )
        self.store.take_command(chat.platform, chat.chat_id, chat.user_id)  # the session is over
        return submitted

    def _open_session(self, chat: ChatRef) -> None:
        self.store.expect_command(
            chat.platform, chat.chat_id, chat.user_id, TRAIN, self.settings.train.session_ttl_s
        )

    # --- preferences ---------------------------------------------------------------------------------------
    def preferences(self, chat: ChatRef) -> UserPrefs:
        return self.store.user_prefs(chat.platform, chat.user_id)

    def set_preference(self, chat: ChatRef, name: str, value: bool) -> UserPrefs:
        if name not in PREFERENCES:
            raise UserError("settings.unknown", name=name)
        self.store.upsert_user(chat.platform, chat.user_id, chat.lang)
        self.store.set_user_pref(chat.platform, chat.user_id, name, value)
        return self.preferences(chat)

    # --- cancelling and forgetting -----------------------------------------------------------------------
    def forget(self, chat: ChatRef) -> ForgetReport:
        """Delete everything stored about this user: jobs (cancelled first, so workers stop) with their
        photos and results, selfies, identity models, checkpoints, consent records, settings, held photos
        and pending commands, and the broker messages of their queued jobs."""
        cancelled = self.jobs.cancel_active(chat)
        rows = self.store.forget_user(chat.platform, chat.user_id)
        self.jobs.discard_queued(
            [job.id for job in rows.jobs if job.state in (JobState.QUEUED, JobState.RUNNING)]
        )
        slug = identity.owner_slug(chat.platform, chat.user_id)
        keys = {key for job in rows.jobs for key in job_blob_keys(job)}
        keys |= {key for s in rows.selfies for key in (s.aligned_key, s.raw_key) if key}
        present = [key for key in keys if self.blobs.exists(key)]
        for key in present:
            self.blobs.delete(key)
        files = len(present)
        for prefix in (
            identity.selfie_prefix(slug),
            identity.identity_prefix(slug),
            identity.training_prefix(slug),
            held_prefix(slug),  # a photo waiting for the rest of its command (/tryon's first)
        ):
            files += self.blobs.delete_prefix(prefix)
        log.info("forgot a %s user: %d jobs, %d files", chat.platform, len(rows.jobs), files)
        return ForgetReport(
            selfies=len(rows.selfies),
            models=len(rows.models),
            jobs=len(rows.jobs),
            files=files,
            cancelled=len(cancelled),
        )
