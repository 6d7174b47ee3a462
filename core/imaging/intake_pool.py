"""Photo intake away from the bot process: a small pool of processes decodes, checks and re-encodes.

A chat bot takes many updates at once; decoding is CPU and memory (a 20 MB JPEG of comment markers costs
seconds of CPU, a 35 MP photo hundreds of MB while it is re-encoded). In the bot's own process that starves
the event loop and adds up per concurrent upload. Here at most ``IntakeSettings.workers`` photos are decoded
at once, in other processes; the others wait their turn in the pool's queue with only their bytes in memory.
A child that dies on a photo (killed for memory) turns into a refusal of that photo, and the pool is started
again for the next one.

One pool per process and size, made on first use and shared by every studio in the process; ``spawn``
children, because a bot process has threads (asyncio, to_thread) and a fork could copy a held lock.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from core.config import IntakeSettings
from core.errors import UserError
from core.imaging.intake import intake_image

log = logging.getLogger(__name__)

# A child is replaced after this many photos: whatever a decoder leaked or fragmented goes with it.
PHOTOS_PER_CHILD = 100

_pools: dict[int, ProcessPoolExecutor] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class CleanPhoto:
    """What the studio stores of a photo: ``CleanImage`` without the decoded pixels (they stay behind in the
    child; only the PNG crosses back)."""

    data: bytes
    source_format: str
    width: int
    height: int


def clean_photo(data: bytes, limits: IntakeSettings) -> CleanPhoto:
    """``intake_image`` in a pool process (``limits.workers`` > 0) or here; its ``UserError``s unchanged."""
    if limits.workers == 0:
        return _clean(data, limits)
    pool = _pool(limits.workers)
    try:
        return pool.submit(_clean, data, limits).result()
    except BrokenProcessPool:
        _drop(limits.workers, pool)
        log.warning("a photo check process died (out of memory?) on a %d-byte upload; refused it", len(data))
        raise UserError("intake.corrupt") from None


def shutdown_pools() -> None:
    """Stop every pool of this process (the next photo starts one again)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def _clean(data: bytes, limits: IntakeSettings) -> CleanPhoto:
    image = intake_image(data, limits)
    return CleanPhoto(image.data, image.source_format, image.width, image.height)


def _pool(workers: int) -> ProcessPoolExecutor:
    with _lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=PHOTOS_PER_CHILD,
            )
            _pools[workers] = pool
        return pool


def _drop(workers: int, broken: ProcessPoolExecutor) -> None:
    with _lock:
        if _pools.get(workers) is broken:
            del _pools[workers]
    broken.shutdown(wait=False, cancel_futures=True)
