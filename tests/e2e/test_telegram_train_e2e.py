"""/train end to end: the real bot process and a real Celery worker on the tiny tier (real selfie checks,
real LoRA training on the tiny SD inpainting model) consuming the gpu, cpu and train queues, on the real
Redis, with the local fake Bot API standing in for Telegram.

Consent -> selfies in an album, across a bot restart -> /done -> training progress -> "ready" -> an /unmask
that runs with the user's adapter and reports its likeness."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from core import identity
from core.blobs import LocalBlobStore
from core.store import JobStore, migrate
from tests.e2e.fake_bot_api import FakeBotAPI, Sent
from tests.e2e.stack import claimed_redis_db, stack_env, start_bot, start_worker, stop
from tests.selfie_photos import selfie_set

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

TIMEOUT_S = 240.0  # a cold worker loads the face models and the tiny pipelines on its first jobs
CHAT = 7200001


@dataclass
class TrainStack:
    api: FakeBotAPI
    env: dict[str, str]
    work: Path
    bot: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + path.read_text(errors="replace")[-4000:]
            for path in sorted(self.work.glob("*.log"))
        )

    def wait_for(self, predicate: Callable[[Sent], bool], count: int = 1) -> list[Sent]:
        try:
            return self.api.wait_for(predicate, count=count, timeout=TIMEOUT_S)
        except TimeoutError as error:
            raise AssertionError(f"{error}\n{self.log_tail()}") from None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainStack]:
    work = tmp_path_factory.mktemp("telegram-train-e2e")
    with claimed_redis_db() as redis_url, FakeBotAPI() as api:
        env = stack_env(
            api,
            work,
            redis_url,
            ATELIER_TELEGRAM__POLL_TIMEOUT_S="2",
            ATELIER_MODELS__TIER="tiny",
            ATELIER_TRAIN__MIN_SELFIES="3",
            # Long enough (a few seconds of tiny steps) for the status message to show a step or two:
            # the bot edits it at most once a second.
            ATELIER_TRAIN__STEPS="60",
            ATELIER_TRAIN__CHECKPOINT_EVERY="20",
        )
        migrate(env["ATELIER_DATABASE_URL"])
        worker = start_worker(env, work / "worker.log", queues=("gpu", "cpu", "train"))
        bot = start_bot(env, work / "bot.log")
        running = TrainStack(api, env, work, bot, worker)
        try:
            api.wait_for_call("getUpdates", timeout=60)
            yield running
        finally:
            stop(running.bot)
            stop(running.worker, timeout_s=30)


def to_me(method: str, starts: str = "") -> Callable[[Sent], bool]:
    return lambda sent: sent.chat_id == CHAT and sent.method == method and sent.text.startswith(starts)


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def test_consent_selfies_training_and_an_unmask_with_the_users_model(
    stack: TrainStack, shared_data: Path
) -> None:
    api, faces = stack.api, shared_data / "faces"
    me = Image.open(faces / "without_mask" / "nm_010.jpg").convert("RGB")
    selfies = [jpeg(image) for image in selfie_set(me, 3)]
    stranger = (faces / "without_mask" / "nm_002.jpg").read_bytes()

    # 1. Consent
    api.send_text(CHAT, "/train")
    (prompt,) = stack.wait_for(to_me("sendMessage", "Before you send selfies"))
    agree = next(b["callback_data"] for row in prompt.message["reply_markup"]["inline_keyboard"] for b in row)
    api.inject_update(api.button_press(prompt.message, agree))
    stack.wait_for(to_me("editMessageText", "Send 3 to 20 selfies"))

    # 2. An album of two selfies, then the bot restarts in the middle of the upload
    for data in selfies[:2]:
        api.send_photo(CHAT, data, media_group_id="album-1")
    stack.wait_for(to_me("sendMessage", "Accepted"), count=2)
    stop(stack.bot)
    stack.bot = start_bot(stack.env, stack.work / "bot-restarted.log")
    api.send_photo(CHAT, selfies[2])
    api.send_photo(CHAT, stranger)
    stack.wait_for(to_me("sendMessage", "Accepted"), count=3)
    (refused,) = stack.wait_for(to_me("sendMessage", "Not used"))
    assert refused.text == "Not used: this does not look like the same person as your other selfies."

    # 3. /done: training with progress, then "ready"
    api.send_text(CHAT, "/done")
    stack.wait_for(to_me("sendMessage", "Training queued (position 1)."))
    (ready,) = stack.wait_for(to_me("sendMessage", "Your model is ready (trained on 3 selfies)."))
    progress = [s.text for s in api.sent_to(CHAT, "editMessageText")]
    assert any(text.startswith("Training your model: step ") for text in progress), progress

    store = JobStore(stack.env["ATELIER_DATABASE_URL"])
    blobs = LocalBlobStore(Path(stack.env["ATELIER_DATA_DIR"]) / "blobs")
    try:
        model = store.identity_model("telegram", str(CHAT), "tiny-sd-inpaint")
        assert model is not None and model.adapter_key is not None and model.selfies == 3
        assert blobs.get(model.adapter_key)[:8] != b"\x80\x02"  # safetensors, not a pickle
        slug = identity.owner_slug("telegram", str(CHAT))
        assert blobs.keys(identity.training_prefix(slug)) == []  # checkpoints go once published
        assert all(s.raw_key is None for s in store.selfies("telegram", str(CHAT)))  # raw photos deleted

        # 4. /unmask now runs with the adapter and says how much the face looks like the selfies
        masked = (faces / "with_mask" / "wm_005.jpg").read_bytes()
        api.send_photo(CHAT, masked, caption="/unmask")
        (photo,) = stack.wait_for(to_me("sendPhoto"))
        assert "Likeness to your selfies: face distance" in photo.text
    finally:
        store.close()
    worker_log = (stack.work / "worker.log").read_text()
    assert "trained 60 steps" in worker_log
    assert "runs with its user's identity (adapter: yes, 3 reference selfies)" in worker_log
