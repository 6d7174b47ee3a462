"""The canvas in a real headless Chromium (Selenium): strokes drawn with the mouse and a finger (Pointer
Events), the strength slider moved, "Make my face" pressed; the job row holds the drawing and the strength,
its "queued" message and its result reach the chat through the local fake Bot API, and the canvas shows the
face. Leaves a screenshot in out/sketch/canvas.png.

The worker runs in the test's process (``tests.worker_in_process``) with the tiny tier's sketch pipeline: the
real steps around random miniature models, so the picture is noise but every step runs, the face finder
included (it has to find the face drawn in the browser)."""

from __future__ import annotations

import asyncio
import io
import math
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import SecretStr

from bots.telegram.sender import TelegramResultSender
from bots.web.announce import TelegramAnnouncer
from bots.web.app import build_web_app
from core.config import Settings
from core.messages import t
from core.ports import ChatRef, JobState
from core.studio.canvas_links import make_canvas_token
from core.studio.delivery import Deliverer
from core.studio.service import Studio
from jobs import runtime
from tests.e2e.fake_bot_api import FakeBotAPI
from tests.worker_in_process import events_redis_url, studio_with_worker

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
    ),
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "out" / "sketch" / "canvas.png"
SECRET = "browser-test-secret"
MEMBER = ChatRef("telegram", "5001", "5001", "en")


@dataclass
class Served:
    url: str
    loop: asyncio.AbstractEventLoop


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def studio(tmp_path: Path, api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Studio]:
    settings = Settings(data_dir=tmp_path / "data", redis_url=events_redis_url())
    settings.models.tier = "tiny"
    settings.intake.workers = 0
    settings.telegram.token = SecretStr(api.token)
    settings.telegram.api_url = api.url
    settings.web.secret = SecretStr(SECRET)
    with studio_with_worker(settings, monkeypatch) as studio:
        yield studio


@pytest.fixture
def served(studio: Studio, api: FakeBotAPI) -> Iterator[Served]:
    """The canvas and the Telegram Deliverer on an event loop of their own, as the bot process runs them."""
    from aiohttp import web
    from telegram import Bot

    loop = asyncio.new_event_loop()
    started: Future[str] = Future()
    stop = asyncio.Event()

    async def main() -> None:
        bot = Bot(api.token, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot")
        await bot.initialize()
        sender = TelegramResultSender(bot, studio.settings.telegram)
        deliverer = Deliverer(studio.store, studio.blobs, None, {"telegram": sender}, sweep_interval_s=0.2)
        runner = web.AppRunner(build_web_app(studio, {"telegram": TelegramAnnouncer(bot)}))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        delivery = asyncio.create_task(deliverer.run())
        started.set_result(f"http://{host}:{port}")
        await stop.wait()
        delivery.cancel()
        await asyncio.gather(delivery, return_exceptions=True)
        await runner.cleanup()
        await bot.shutdown()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        yield Served(started.result(timeout=30), loop)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()


@pytest.fixture
def driver() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=480,980"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield browser
    finally:
        browser.quit()


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"waited {timeout} s for {what or check}")


def draw_face(driver: Any, canvas: Any) -> None:
    """An oval and two eyes with the mouse, a mouth with a finger (touch pointer)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    radius = canvas.size["width"] * 0.3
    oval = [
        (radius * 0.8 * math.cos(a / 24 * math.tau), radius * math.sin(a / 24 * math.tau)) for a in range(25)
    ]
    strokes = [oval, [(-45, -30), (-25, -30)], [(25, -30), (45, -30)]]
    for stroke in strokes:
        chain = ActionChains(driver, duration=10).move_to_element_with_offset(canvas, *map(int, stroke[0]))
        chain.click_and_hold()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
            chain.move_by_offset(int(x1) - int(x0), int(y1) - int(y0))
        chain.release().perform()
    finger = ActionBuilder(driver, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"), duration=20)
    finger.pointer_action.move_to(canvas, -40, 60).pointer_down()
    for x in range(-30, 50, 10):
        finger.pointer_action.move_to(canvas, x, 60 + int(10 * math.sin(x / 25)))
    finger.pointer_action.pointer_up()
    finger.perform()


def test_a_face_drawn_in_the_browser_becomes_a_job_and_comes_back(
    studio: Studio, api: FakeBotAPI, served: Served, driver: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    token = make_canvas_token(SECRET, MEMBER, 600)
    driver.get(f"{served.url}/sketch?token={token}")
    canvas = driver.find_element(By.ID, "canvas")
    assert driver.find_element(By.ID, "submit").text == t("web.submit", "en")
    draw_face(driver, canvas)
    slider = driver.find_element(By.ID, "strength")
    slider.send_keys(Keys.ARROW_RIGHT * 4)  # 0.6 -> 0.8, as a keyboard or a drag moves it
    assert slider.get_attribute("value") == "0.8"
    driver.find_element(By.ID, "submit").click()

    # The job row holds the drawing and the strength.
    jobs = wait_until(lambda: studio.active_jobs(MEMBER), what="the job row")
    (job,) = jobs
    assert job.kind == "sketch" and job.params["options"] == {"strength": 0.8, "fast": False}
    with Image.open(io.BytesIO(studio.blobs.get(job.input_key))) as stored:
        assert stored.size == (512, 512)
        dark = int((np.asarray(stored.convert("L")) < 128).sum())
    assert dark > 500, f"the stored drawing has {dark} dark pixels: the strokes did not arrive"

    # The chat gets the "queued" message, which becomes the job's status message, as for a photo.
    (queued,) = api.wait_for(lambda s: s.chat_id == 5001 and s.method == "sendMessage", timeout=20)
    assert queued.text == t("job.queued", "en", position=1)
    wait_until(lambda: studio.job(job.id).status_message_id, what="the status message")

    # A worker paints it; the Deliverer sends it to the chat and the canvas shows it.
    runtime.execute(job.id)
    assert studio.job(job.id).state is JobState.DONE, studio.job(job.id).error
    photo, document = api.wait_for(
        lambda s: s.chat_id == 5001 and s.method in ("sendPhoto", "sendDocument"), count=2, timeout=30
    )
    assert photo.method == "sendPhoto" and document.method == "sendDocument"
    status = driver.find_element(By.ID, "status")
    wait_until(lambda: status.text == t("web.done", "en"), what="the canvas to say done")
    shown = driver.find_element(By.ID, "result")
    wait_until(lambda: driver.execute_script("return arguments[0].naturalWidth", shown) > 0, what="the face")
    assert shown.is_displayed()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOT))
