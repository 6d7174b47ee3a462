"""Photo intake for the bot happens in a small pool of other processes: the bot's own CPU and memory stay
out of it, at most ``workers`` photos are decoded at once, and a child that dies on a photo refuses that
photo only (real processes, real photos)."""

from __future__ import annotations

import io
import os
import resource
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import psutil
import pytest
from PIL import Image

from core.config import IntakeSettings
from core.errors import UserError
from core.imaging.intake_pool import clean_photo, shutdown_pools
from tests.e2e.offline import photo_bytes

ONE = IntakeSettings(workers=1)


@pytest.fixture(autouse=True)
def only_this_tests_pool() -> Iterator[None]:
    """Other tests' pools (the studio's default one) would be counted as this test's children."""
    shutdown_pools()
    yield
    shutdown_pools()


def heavy_jpeg(megapixels: float = 12) -> bytes:
    """Noise decodes and compresses slowly: about a second of CPU per intake at 12 MP."""
    side = int((megapixels * 1e6) ** 0.5)
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def pool_children() -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process().children()
        if any("multiprocessing.spawn" in part or "spawn_main" in part for part in child.cmdline())
    ]


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_a_refusal_in_the_child_arrives_with_its_key_and_numbers() -> None:
    with pytest.raises(UserError) as refused:
        clean_photo(photo_bytes(), IntakeSettings(workers=1, max_pixels=1000))
    assert refused.value.key == "intake.too_many_pixels" and refused.value.params


def test_the_bot_process_does_not_decode_and_at_most_workers_decode_at_once() -> None:
    data = heavy_jpeg()
    clean_photo(photo_bytes(), ONE)  # the child is up
    before = own_cpu_s()
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(clean_photo(data, ONE))) for _ in range(3)]
    for thread in threads:
        thread.start()
    seen = 0
    while any(thread.is_alive() for thread in threads):
        seen = max(seen, len(pool_children()))
        time.sleep(0.05)
    spent_here = own_cpu_s() - before
    children_cpu = sum(sum(child.cpu_times()[:2]) for child in pool_children())
    assert len(results) == 3 and seen == 1
    assert children_cpu > 1.0 and spent_here < 0.35 * children_cpu, (spent_here, children_cpu)


def test_a_child_killed_on_a_photo_refuses_that_photo_and_the_next_one_is_checked() -> None:
    clean_photo(photo_bytes(), ONE)
    (child,) = pool_children()
    working_from = sum(child.cpu_times()[:2])
    data = heavy_jpeg()
    outcome: list[BaseException | object] = []

    def check() -> None:
        try:
            outcome.append(clean_photo(data, ONE))
        except BaseException as error:  # the assertion below says which
            outcome.append(error)

    thread = threading.Thread(target=check)
    thread.start()
    deadline = time.monotonic() + 30
    while sum(child.cpu_times()[:2]) < working_from + 0.2 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)  # mid-decode, as the kernel's OOM killer would
    thread.join(60)
    assert isinstance(outcome[0], UserError) and outcome[0].key == "intake.corrupt"
    assert clean_photo(photo_bytes(), ONE).width > 0
