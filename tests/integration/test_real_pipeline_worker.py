"""The production unmask pipeline (offline tier: real models, CPU, no downloads) through a real worker."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fabric_harness import CHAT, Fabric, wait_until
from PIL import Image, ImageChops

from core.ports import JobState

pytestmark = pytest.mark.integration


@pytest.mark.timeout(120)
def test_a_masked_photo_is_unmasked_by_a_real_worker_and_delivered(fabric: Fabric, shared_data: Path) -> None:
    worker = fabric.start_worker(pipeline="real", tier="offline", time_limit_s=90, visibility_timeout_s=180)
    fabric.start_delivery()
    photo = (shared_data / "faces" / "with_mask" / "wm_001.jpg").read_bytes()
    submitted = fabric.studio.submit_unmask(CHAT, photo)
    wait_until(lambda: fabric.sender.delivered(submitted.job_id) > 0, 90, "the unmasked photo")

    job = fabric.job(submitted.job_id)
    assert job.state is JobState.DONE, (job.error_key, worker.log[-3000:])
    assert fabric.sender.results == [job.id]
    original = Image.open(io.BytesIO(fabric.studio.blobs.get(job.input_key))).convert("RGB")
    result = Image.open(io.BytesIO(fabric.studio.blobs.get(job.result_key or "")))
    mask = Image.open(io.BytesIO(fabric.studio.blobs.get(job.mask_key or "")))
    assert result.mode == "RGB" and result.size == original.size and mask.mode == "L"
    changed = ImageChops.difference(original, result).convert("L").point(lambda v: 255 if v else 0)
    assert changed.getbbox() is not None  # the mask was painted over
    # Pixels outside the edit mask are the input's, bit for bit.
    assert ImageChops.multiply(changed, ImageChops.invert(mask)).getbbox() is None
    assert "unmask pipeline loaded" in worker.log
