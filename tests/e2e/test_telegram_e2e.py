"""End to end: the real bot process and a real Celery worker (offline tier) on the real Redis, a SQLite
database in a temp dir, and the local fake Bot API standing in for Telegram."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.messages import t
from core.store import migrate
from tests.e2e.fake_bot_api import FakeBotAPI, Sent
from tests.e2e.stack import claimed_redis_db, png_size, stack_env, start_bot, start_worker, stop

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

RESULT_TIMEOUT_S = 240.0  # a cold offline-tier worker loads its models on the first job
MASKED_PHOTO = "wm_005.jpg"


@dataclass
class Stack:
    api: FakeBotAPI
    bot: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    logs: Path

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
            for path in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("telegram-e2e")
    with claimed_redis_db() as redis_url, FakeBotAPI() as api:
        env = stack_env(api, work, redis_url, ATELIER_TELEGRAM__POLL_TIMEOUT_S="2")
        migrate(env["ATELIER_DATABASE_URL"])  # once, before two processes would both try
        worker = start_worker(env, work / "worker.log")
        bot = start_bot(env, work / "bot.log")
        try:
            api.wait_for_call("getUpdates", timeout=60)
            yield Stack(api, bot, worker, work)
        finally:
            stop(bot)
            stop(worker, timeout_s=30)


def to_chat(chat_id: int, method: str) -> Callable[[Sent], bool]:
    return lambda sent: sent.chat_id == chat_id and sent.method == method


def wait_for_result(stack: Stack, chat_id: int) -> tuple[Sent, Sent]:
    try:
        (document,) = stack.api.wait_for(to_chat(chat_id, "sendDocument"), timeout=RESULT_TIMEOUT_S)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{stack.log_tail()}") from None
    (photo,) = stack.api.wait_for(to_chat(chat_id, "sendPhoto"), timeout=5)
    return photo, document


def test_a_masked_photo_comes_back_as_photo_and_full_size_document(stack: Stack, shared_data: Path) -> None:
    chat = 7100001
    data = (shared_data / "faces" / "with_mask" / MASKED_PHOTO).read_bytes()
    with Image.open(io.BytesIO(data)) as original:
        size = original.size
    sent = stack.api.send_photo(chat, data, caption="/unmask")

    photo, document = wait_for_result(stack, chat)
    assert png_size(document.files["document"].data) == size
    assert photo.files["photo"].data and photo.reply_to == document.reply_to == sent["message_id"]
    (status,) = stack.api.sent_to(chat, "sendMessage")
    assert status.text == "Queued (position 1)."
    # The status message was edited in place, ending with "Done." once the result was out.
    status_id = status.message["message_id"]
    stack.api.wait_for(
        lambda s: s.method == "editMessageText" and s.params["message_id"] == status_id and s.text == "Done.",
        timeout=10,
    )
    assert all(edit.params["message_id"] == status_id for edit in stack.api.sent_to(chat, "editMessageText"))


def test_a_non_image_file_gets_a_clear_error_and_the_bot_keeps_working(
    stack: Stack, shared_data: Path
) -> None:
    chat = 7100002
    stack.api.send_document(
        chat,
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        file_name="scan.pdf",
        mime_type="application/pdf",
        caption="/unmask",
    )
    (error,) = stack.api.wait_for(to_chat(chat, "sendMessage"), timeout=15)
    assert error.text.startswith("This file is not a photo I can read.")

    stack.api.send_text(chat, "/help")
    help_text = stack.api.wait_for(to_chat(chat, "sendMessage"), count=2, timeout=15)[-1]
    assert help_text.text.startswith("What I can do")

    # "/unmask" first, then the photo as a file: a second flow after the error still works.
    stack.api.send_text(chat, "/unmask")
    stack.api.wait_for(to_chat(chat, "sendMessage"), count=3, timeout=15)
    data = (shared_data / "faces" / "with_mask" / MASKED_PHOTO).read_bytes()
    stack.api.send_document(chat, data, file_name="me.jpg", mime_type="image/jpeg")
    _, document = wait_for_result(stack, chat)
    with Image.open(io.BytesIO(data)) as original:
        assert png_size(document.files["document"].data) == original.size


def test_suit_returns_the_id_photo_its_full_size_file_and_a_print_sheet(
    stack: Stack, shared_data: Path
) -> None:
    chat = 7100003
    data = (shared_data / "faces" / "without_mask" / "nm_003.jpg").read_bytes()
    sent = stack.api.send_photo(chat, data, caption="/suit charcoal 3x4 grey")
    try:
        id_file, sheet = stack.api.wait_for(to_chat(chat, "sendDocument"), count=2, timeout=RESULT_TIMEOUT_S)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{stack.log_tail()}") from None
    (photo,) = stack.api.sent_to(chat, "sendPhoto")
    assert photo.text.startswith("Your ID photo (Resumé 3×4 cm, 300 dpi).")
    assert photo.reply_to == id_file.reply_to == sheet.reply_to == sent["message_id"]
    with Image.open(io.BytesIO(id_file.files["document"].data)) as image:
        assert image.format == "PNG" and image.size == (354, 472)  # 30 x 40 mm at 300 dpi
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    with Image.open(io.BytesIO(sheet.files["document"].data)) as image:
        assert sorted(image.size) == [1200, 1800]  # 4 x 6 in at 300 dpi
    assert sheet.text.startswith("Print sheet for 4×6 in paper at 300 dpi.")


def test_tryon_an_album_of_me_and_a_shop_photo_comes_back_wearing_it(stack: Stack, shared_data: Path) -> None:
    chat = 7100004
    me = (shared_data / "tryon" / "people" / "00034_00.jpg").read_bytes()
    top = (shared_data / "tryon" / "garments" / "09290_00.jpg").read_bytes()
    first = stack.api.send_photo(chat, me, caption="/tryon", media_group_id="e2e-album")
    stack.api.send_photo(chat, top, media_group_id="e2e-album")

    photo, document = wait_for_result(stack, chat)
    assert photo.reply_to == document.reply_to == first["message_id"]
    assert photo.text == t("tryon.caption")
    result = document.files["document"].data
    with Image.open(io.BytesIO(me)) as original, Image.open(io.BytesIO(result)) as out:
        assert out.format == "PNG" and out.size == original.size
        before = np.asarray(original.convert("RGB"), np.int16)
        after = np.asarray(out.convert("RGB"), np.int16)
    changed = np.abs(after - before).max(axis=-1) > 12  # beyond the JPEG decode's noise
    # The top changed; the rest of the photo (face, background, legs) did not.
    assert 0.05 < changed.mean() < 0.6, changed.mean()
    assert not changed[: before.shape[0] // 12].any()  # the top of the frame: hair and background
    texts = [sent.text for sent in stack.api.sent_to(chat, "sendMessage")]
    assert texts == ["Queued (position 1)."]  # the album's first photo is not answered on its own


def test_the_bot_process_shuts_down_cleanly_without_model_libraries(stack: Stack) -> None:
    assert stop(stack.bot) == 0, stack.log_tail()
    log = (stack.logs / "bot.log").read_text()
    assert "heavy modules: []" in log, log[-3000:]
    assert stack.api.token not in log  # P5: the token (and so every file URL) never reaches the log
