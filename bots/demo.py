"""``atelier demo``: one /unmask job through the whole service on this machine.

Embedded Redis, a real Celery worker process, the job database, the blob store and the durable delivery
path all run exactly as under ``atelier serve``; only the chat is replaced by a folder.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

from rich.console import Console

from bots.console import ConsoleResultSender
from bots.processes import spawn_worker, stop_process
from bots.wiring import Wiring, wire
from core.config import Settings
from core.errors import UserError
from core.ports import ChatRef

DEMO_TIMEOUT_S = 600.0


def _input_bytes(photo: Path | None) -> bytes:
    if photo is not None:
        return photo.read_bytes()
    from core.imaging.samples import masked_sample

    buffer = io.BytesIO()
    masked_sample().save(buffer, format="PNG")
    return buffer.getvalue()


async def _deliver_one(wiring: Wiring, sender: ConsoleResultSender, job_id: str) -> None:
    deliverer = wiring.deliverer(sender)
    runner = asyncio.create_task(deliverer.run())
    try:
        await asyncio.wait_for(sender.finished_event(job_id).wait(), timeout=DEMO_TIMEOUT_S)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


def run_demo(settings: Settings, photo: Path | None, out_dir: Path) -> int:
    console = Console(stderr=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = _input_bytes(photo)
    (out_dir / "input.png").write_bytes(data)

    wiring = wire(settings, embedded_redis=True)
    settings = wiring.settings
    assert settings.redis_url
    worker = spawn_worker(settings, settings.redis_url, ["gpu", "cpu"], concurrency=1)
    started = time.perf_counter()
    try:
        studio = wiring.studio
        lang = settings.default_language
        chat = ChatRef(platform="console", user_id="operator", chat_id="local", lang=lang)
        try:
            submitted = studio.submit_unmask(chat, data)
        except UserError as error:
            console.print(f"[red]{error.render(chat.lang)}[/red]")
            return 1
        tier = settings.models.tier
        console.print(f"job {submitted.job_id} queued (position {submitted.position}), tier {tier}")
        sender = ConsoleResultSender(out_dir, console)
        asyncio.run(_deliver_one(wiring, sender, submitted.job_id))
        if submitted.job_id not in sender.results:
            return 1
        result = sender.results[submitted.job_id].replace(out_dir / "unmasked.png")
        console.print(f"{out_dir / 'input.png'} → {result} in {time.perf_counter() - started:.1f} s")
        _unmask_with_face_prior(settings, data, out_dir, console)
        return 0
    finally:
        stop_process(worker)
        wiring.close()


def _unmask_with_face_prior(settings: Settings, data: bytes, out_dir: Path, console: Console) -> None:
    """The same photo unmasked once more, in this process, with the offline tier's face prior on (a
    generated stranger's lower face instead of plain skin). Its weights are non-commercial, so the service
    leaves it off unless configured; when it cannot load, the demo says why and carries on."""
    from core.imaging.backends.offline.face_prior import LICENCE, FacePriorUnavailable
    from core.imaging.intake import intake_image
    from core.imaging.pipelines.jobio import JobInputs
    from core.imaging.pipelines.unmask import build_unmask_pipeline

    if settings.models.tier != "offline":
        console.print("no face-prior result: the face prior belongs to the offline tier")
        return
    models = settings.models.model_copy(update={"face_prior": "stylegan"})
    console.print(f"face prior: {LICENCE}; its first use generates {models.face_prior_bank} faces (cached)")
    started = time.perf_counter()
    try:
        pipeline = build_unmask_pipeline(models)
        result = pipeline.run_job(JobInputs(image=intake_image(data, settings.intake).image))
    except (FacePriorUnavailable, ImportError, UserError) as error:
        reason = error.render(settings.default_language) if isinstance(error, UserError) else str(error)
        console.print(f"[yellow]no face-prior result: {reason}[/yellow]")
        return
    path = out_dir / "unmasked-face-prior.png"
    result.image.save(path, format="PNG")
    console.print(f"{path} in {time.perf_counter() - started:.1f} s (face prior on; non-commercial use only)")
