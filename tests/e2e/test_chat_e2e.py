"""``atelier chat`` end to end with a piped conversation: embedded Redis, real worker processes on the offline
tier, delivery to the console; the process exits once every job the conversation started was delivered."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bots.chat_lines import NO_FILE
from core.messages import t
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def test_a_piped_unmask_conversation_leaves_the_result_in_the_output_folder(
    tmp_path: Path, shared_data: Path
) -> None:
    photo = shared_data / "faces" / "with_mask" / "wm_005.jpg"
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        ATELIER_DATA_DIR=str(tmp_path / "data"),
        ATELIER_MODELS__TIER="offline",
        ATELIER_LOG_LEVEL="WARNING",
    )
    conversation = f"/unmask {tmp_path / 'nowhere.jpg'}\n/unmask {photo}\n"

    done = subprocess.run(
        [sys.executable, "-m", "bots.cli", "chat", "-o", str(out)],
        input=conversation.encode(),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=150,
    )

    transcript = done.stdout.decode()
    assert done.returncode == 0, transcript + done.stderr.decode()[-3000:]
    assert f"operator> /unmask {photo}\n" in transcript  # a piped conversation prints as a transcript
    assert (
        t(NO_FILE, path=str(tmp_path / "nowhere.jpg")) in transcript
        and "Traceback" not in done.stderr.decode()
    )
    assert "Queued (position 1)." in transcript
    [result] = out.glob("*.png")
    assert f"{t('result.caption')} → {result}" in transcript
    with Image.open(io.BytesIO(result.read_bytes())) as image, Image.open(photo) as original:
        assert image.format == "PNG" and image.size == original.size
