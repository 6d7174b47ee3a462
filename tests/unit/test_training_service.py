"""/train, /settings, /cancel and /forget in the command core, with the real store, blob store and intake
and an in-memory queue."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import MetaData, select

from core import identity
from core.config import Settings
from core.errors import UserError
from core.ports import ChatRef, JobState
from core.store import IdentityModelView, SelfieView
from core.studio.service import Studio, bootstrap
from core.studio.training import CONSENT_VERSION
from tests.fakes import MemoryQueue, without_quotas

ALICE = ChatRef(platform="telegram", user_id="1001", chat_id="1001", lang="en")
BOB = ChatRef(platform="telegram", user_id="2002", chat_id="2002", lang="ko")


def photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (190, 140, 120)).save(buffer, format="JPEG")
    return buffer.getvalue()


def settings_for(root: Path) -> Settings:
    settings = Settings(data_dir=root / "data")
    settings.train.min_selfies, settings.train.max_selfies, settings.train.max_active = 3, 4, 2
    return without_quotas(settings)  # one user starts a dozen jobs at once below


@pytest.fixture
def queue() -> MemoryQueue:
    return MemoryQueue()


@pytest.fixture
def studio(tmp_path: Path, queue: MemoryQueue) -> Iterator[Studio]:
    studio = bootstrap(settings_for(tmp_path), queue=queue)
    yield studio
    studio.store.close()


def accept_selfies(studio: Studio, chat: ChatRef, count: int, first: int = 0) -> list[str]:
    """What the selfie worker records for each accepted photo."""
    slug, ids = identity.owner_slug(chat.platform, chat.user_id), []
    for index in range(first, first + count):
        selfie_id = f"{chat.user_id}s{index}"
        key = identity.selfie_key(slug, selfie_id)
        studio.blobs.put(key, photo())
        studio.blobs.put(identity.selfie_key(slug, selfie_id, "raw"), photo())
        studio.store.add_selfie(
            chat.platform,
            chat.user_id,
            SelfieView(
                id=selfie_id,
                aligned_key=key,
                raw_key=identity.selfie_key(slug, selfie_id, "raw"),
                embedding=np.full(128, 0.01 * index, np.float32),
                landmarks=np.zeros((478, 2), np.float32),
                face_px=300,
                sharpness=120.0,
                dhash=2**64 - 1 - index,
            ),
        )
        ids.append(selfie_id)
    return ids


def finish_checks(studio: Studio, chat: ChatRef) -> None:
    for job in studio.active_jobs(chat):
        if job.kind == "selfie":
            studio.store.start_attempt(job.id, 3, owner="w")
            studio.store.mark_done(job.id, None, None, {"notice": {"key": "train.selfie_ok", "params": {}}})


def test_no_selfie_is_stored_before_consent(studio: Studio, queue: MemoryQueue) -> None:
    with pytest.raises(UserError) as refused:
        studio.identities.submit_selfie(ALICE, photo())
    assert refused.value.key == "train.consent_required"
    assert queue.enqueued == [] and studio.active_jobs(ALICE) == []
    assert studio.blobs.keys("inputs/") == []
    state = studio.identities.begin_training(ALICE)
    assert not state.consented and not state.collecting  # /train alone only shows the consent text


def test_consent_opens_an_upload_session_that_survives_a_restart(
    tmp_path: Path, studio: Studio, queue: MemoryQueue
) -> None:
    state = studio.identities.accept_consent(ALICE)
    assert state.consented and state.collecting and state.selfies == 0
    with studio.store.engine.connect() as conn:
        table = MetaData()
        table.reflect(conn, only=["consents"])
        (row,) = conn.execute(select(table.tables["consents"])).all()
    assert (row.platform, row.user_id, row.text_version) == ("telegram", "1001", CONSENT_VERSION)

    restarted = bootstrap(settings_for(tmp_path), queue=queue)  # the bot process came back
    assert restarted.identities.collecting_selfies(ALICE) and not restarted.identities.collecting_selfies(BOB)
    submitted = restarted.identities.submit_selfie(ALICE, photo(), update_key="tg:7")
    assert queue.enqueued == [(submitted.job_id, "cpu", "selfie")]
    assert restarted.identities.submit_selfie(ALICE, photo(), update_key="tg:7").duplicate
    restarted.store.close()


def test_selfies_stop_at_the_maximum(studio: Studio) -> None:
    studio.identities.accept_consent(ALICE)
    accept_selfies(studio, ALICE, 3)
    studio.identities.submit_selfie(ALICE, photo())  # the 4th is being checked
    with pytest.raises(UserError) as refused:
        studio.identities.submit_selfie(ALICE, photo())
    assert refused.value.key == "train.too_many" and refused.value.params == {"max": 4}


def test_done_queues_one_training_on_the_train_queue(studio: Studio, queue: MemoryQueue) -> None:
    studio.identities.accept_consent(ALICE)
    accept_selfies(studio, ALICE, 2)
    with pytest.raises(UserError) as refused:
        studio.identities.start_training(ALICE)
    assert refused.value.key == "train.need_more" and refused.value.params == {"have": 2, "need": 3}

    studio.identities.submit_selfie(ALICE, photo())
    with pytest.raises(UserError) as refused:
        studio.identities.start_training(ALICE)
    assert refused.value.key == "train.still_checking"
    finish_checks(studio, ALICE)
    ids = accept_selfies(studio, ALICE, 1, first=2)

    submitted = studio.identities.start_training(ALICE, update_key="tg:9")
    job = studio.job(submitted.job_id)
    assert (job.kind, job.queue, job.state) == ("train", "train", JobState.QUEUED)
    assert queue.enqueued[-1] == (job.id, "train", "train")
    assert set(ids) <= set(job.params["options"]["selfies"]) and job.params["options"]["steps"] == 800
    assert not studio.identities.collecting_selfies(ALICE)  # the session is over
    assert studio.identities.start_training(ALICE, update_key="tg:9").duplicate
    with pytest.raises(UserError) as refused:
        studio.identities.begin_training(ALICE)
    assert refused.value.key == "train.already_training"
    with pytest.raises(UserError) as refused:
        studio.identities.start_training(ALICE)
    assert refused.value.key == "train.already_training"


def test_trainings_are_capped_across_users(studio: Studio) -> None:
    for index in range(3):
        chat = ChatRef("telegram", f"90{index}", f"90{index}")
        studio.identities.accept_consent(chat)
        accept_selfies(studio, chat, 3)
        if index < 2:
            studio.identities.start_training(chat)
        else:
            with pytest.raises(UserError) as refused:
                studio.identities.start_training(chat)
            assert refused.value.key == "train.busy"


def test_preferences_are_per_user(studio: Studio) -> None:
    assert (
        studio.identities.preferences(ALICE).use_identity
        and not studio.identities.preferences(ALICE).keep_selfies
    )
    assert not studio.identities.set_preference(ALICE, "use_identity", False).use_identity
    assert studio.identities.preferences(BOB).use_identity
    with pytest.raises(UserError):
        studio.identities.set_preference(ALICE, "admin", True)


def test_cancel_stops_the_users_own_jobs(studio: Studio, queue: MemoryQueue) -> None:
    studio.identities.accept_consent(ALICE)
    mine = studio.identities.submit_selfie(ALICE, photo()).job_id
    studio.identities.accept_consent(BOB)
    theirs = studio.identities.submit_selfie(BOB, photo()).job_id
    assert [job.id for job in studio.cancel_active(ALICE)] == [mine]
    assert studio.job(mine).state is JobState.CANCELLED and studio.job(theirs).state is JobState.QUEUED
    assert queue.discarded == [mine]
    assert studio.cancel_active(ALICE) == []


def test_forget_leaves_nothing_of_the_user_and_everything_of_others(
    studio: Studio, queue: MemoryQueue
) -> None:
    for chat in (ALICE, BOB):
        studio.identities.accept_consent(chat)
        accept_selfies(studio, chat, 3)
        studio.submit_unmask(chat, photo())
        studio.identities.set_preference(chat, "keep_selfies", True)
    slug = identity.owner_slug("telegram", ALICE.user_id)
    training = studio.identities.start_training(ALICE).job_id
    studio.store.start_attempt(training, 3, owner="trainer")
    studio.blobs.put(identity.checkpoint_prefix(slug, training) + "step-100/lora.safetensors", b"ckpt")
    studio.blobs.put(identity.adapter_key(slug, "tiny-sd-inpaint"), b"adapter")
    studio.store.save_identity_model(
        "telegram",
        ALICE.user_id,
        IdentityModelView(
            "tiny-sd-inpaint", identity.adapter_key(slug, "tiny-sd-inpaint"), "zqvx", training, 3, 5, None
        ),
        job_id=training,
        owner="trainer",
    )
    bob_files = set(studio.blobs.keys("selfies/")) - set(studio.blobs.keys(identity.selfie_prefix(slug)))
    alice_jobs = [job.id for job in studio.active_jobs(ALICE)]

    report = studio.identities.forget(ALICE)

    assert (report.selfies, report.models, report.jobs, report.cancelled) == (3, 1, 2, 2)
    assert training in queue.discarded
    # The database: no row anywhere names Alice.
    metadata = MetaData()
    with studio.store.engine.connect() as conn:
        metadata.reflect(conn)
        for table in metadata.tables.values():
            for row in conn.execute(select(table)).all():
                values = [str(v) for v in row]
                assert ALICE.user_id not in values, (table.name, row)
                assert not any(slug in v or any(j in v for j in alice_jobs) for v in values), (
                    table.name,
                    row,
                )
    # The blob store: no file of hers.
    every = [p.relative_to(studio.blobs.root).as_posix() for p in studio.blobs.root.rglob("*") if p.is_file()]
    assert not [key for key in every if slug in key or any(job in key for job in alice_jobs)]
    assert bob_files <= set(every)
    assert studio.store.selfie_count("telegram", BOB.user_id) == 3
    assert not studio.identities.training_state(ALICE).consented
    assert studio.identities.training_state(BOB).consented


def test_cancel_and_the_training_check_see_every_active_job(studio: Studio, queue: MemoryQueue) -> None:
    """More active jobs than a status page shows: /cancel still cancels them all, and a training queued
    behind them still counts as the user's one training."""
    studio.identities.accept_consent(ALICE)
    accept_selfies(studio, ALICE, 3)
    training = studio.identities.start_training(ALICE).job_id
    unmasks = [studio.submit_unmask(ALICE, photo()).job_id for _ in range(12)]
    with pytest.raises(UserError) as again:
        studio.identities.begin_training(ALICE)
    assert again.value.key == "train.already_training"
    cancelled = studio.cancel_active(ALICE)
    assert {job.id for job in cancelled} == {training, *unmasks}
    assert set(queue.discarded) == {training, *unmasks}
