"""A real Atelier worker process (``jobs.worker.run_worker``) whose unmask pipeline the fault tests control.

Run as a script: ``python tests/integration/fabric_worker.py``. Settings come from the ``ATELIER_*``
environment like any worker. ``FABRIC_PIPELINE=scripted`` (the default) registers ``ScriptedPipeline``
through ``jobs.runtime.register_pipeline``; ``FABRIC_PIPELINE=real`` keeps the production pipeline of the
configured tier.

The scripted pipeline's behaviour is chosen by the photo itself (its top-left pixel), the way a real poison
input would be: red kills its own process, blue ignores the soft time limit and hangs, green is refused with
a ``UserError``, yellow raises a bug, white finishes at once; anything else works for ``FABRIC_SECONDS``
seconds, reporting progress in ten steps. Every run appends a line to ``FABRIC_RUN_LOG``:
``<pid> start|done <width>x<height>``. ``FABRIC_REAPER=off`` leaves out the stale-job reaper.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from PIL import Image, ImageOps

from core.config import Settings
from core.errors import UserError
from core.imaging.pipelines.jobio import JobInputs, JobOutputs
from core.logs import configure_logging
from jobs import runtime, worker
from jobs.runtime import ProgressCallback

POISON = (255, 0, 0)
STUCK = (0, 0, 255)
REFUSED = (0, 255, 0)
BUGGY = (255, 255, 0)
FAST = (255, 255, 255)


class ScriptedPipeline:
    def __init__(self, seconds: float, run_log: Path | None) -> None:
        self.seconds = seconds
        self.run_log = run_log

    def _log(self, what: str, image: Image.Image) -> None:
        if self.run_log is not None:
            with self.run_log.open("a") as handle:
                handle.write(f"{os.getpid()} {what} {image.width}x{image.height}\n")

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        image = inputs.image
        self._log("start", image)
        marker = image.getpixel((0, 0))
        if marker == POISON:
            os.kill(os.getpid(), signal.SIGKILL)
        if marker == REFUSED:
            raise UserError("unmask.no_face")
        if marker == BUGGY:
            raise RuntimeError("a bug in a backend")
        if marker == STUCK:
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline:  # like native code that never returns to the interpreter
                try:
                    time.sleep(0.05)
                except BaseException:
                    continue
        steps = 0 if marker == FAST else 10
        for step in range(steps):
            if progress is not None:
                progress("inpaint", step / 10)
            time.sleep(self.seconds / 10)
        self._log("done", image)
        return JobOutputs(ImageOps.invert(image), Image.new("L", image.size, 255))


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    if os.environ.get("FABRIC_PIPELINE", "scripted") == "scripted":
        seconds = float(os.environ.get("FABRIC_SECONDS", "1.0"))
        run_log = Path(os.environ["FABRIC_RUN_LOG"]) if os.environ.get("FABRIC_RUN_LOG") else None
        runtime.register_pipeline("unmask", lambda _settings: ScriptedPipeline(seconds, run_log))
    if os.environ.get("FABRIC_REAPER") == "off":  # to observe the broker's own redelivery alone
        worker.install_reaper = lambda *_args, **_kwargs: None
    worker.run_worker(settings, os.environ.get("FABRIC_QUEUES", "gpu").split(","), concurrency=1)


if __name__ == "__main__":
    main()
