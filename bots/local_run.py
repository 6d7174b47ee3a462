"""``atelier run unmask|suit|tryon|sketch``: a production pipeline on one file, in this process, with a
progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from core.config import Settings
from core.errors import UserError
from core.imaging.intake import intake_image
from core.imaging.pipelines.jobio import JobInputs, JobOutputs, JobRunner
from core.messages import t


def _build(kind: str, settings: Settings) -> JobRunner:
    if kind == "suit":
        from core.imaging.pipelines.suit import build_suit_pipeline

        return build_suit_pipeline(settings.models)
    if kind == "tryon":
        from core.imaging.pipelines.tryon import build_tryon_pipeline

        return build_tryon_pipeline(settings.models)
    if kind == "sketch":
        from core.imaging.pipelines.sketch import build_sketch_pipeline

        return build_sketch_pipeline(settings.models)
    from core.imaging.pipelines.unmask import build_unmask_pipeline

    return build_unmask_pipeline(settings.models)


def run_locally(
    settings: Settings,
    kind: str,
    photo: Path,
    output: Path,
    *,
    mask_out: Path | None = None,
    options: dict[str, Any] | None = None,
    extras_in: dict[str, Path] | None = None,
    extras_out: dict[str, Path] | None = None,
) -> int:
    """Returns the process exit code: 0 done, 1 a photo was refused (the reason is printed). Further input
    photos (the /suit example, the /tryon garment) come as ``extras_in[name]``; extra results (the /suit
    print sheet) go to ``extras_out[name]``, by default next to ``output``."""
    console = Console(stderr=True)
    lang = settings.default_language
    try:
        inputs = JobInputs(
            image=intake_image(photo.read_bytes(), settings.intake).image,
            options=options or {},
            extras={
                name: intake_image(path.read_bytes(), settings.intake).image
                for name, path in (extras_in or {}).items()
            },
        )
    except UserError as error:
        console.print(f"[red]{error.render(lang)}[/red]")
        return 1

    with Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(f"loading {settings.models.tier} models", total=1.0)
        pipeline = _build(kind, settings)

        def on_progress(stage: str, fraction: float) -> None:
            bar.update(task, description=t(f"stage.{stage}", lang), completed=fraction)

        try:
            result = pipeline.run_job(inputs, on_progress)
        except UserError as error:
            console.print(f"[red]{error.render(lang)}[/red]")
            return 1
        bar.update(task, completed=1.0, description=t("job.done", lang))

    written = _write(result, output, mask_out, extras_out or {})
    timings = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in result.timings.items())
    console.print(f"wrote {', '.join(written)}; {timings}")
    return 0


def _write(result: JobOutputs, output: Path, mask_out: Path | None, extras_out: dict[str, Path]) -> list[str]:
    dpi = {} if result.dpi is None else {"dpi": (result.dpi, result.dpi)}
    files = [(result.image, output, dpi)]
    if mask_out is not None:
        files.append((result.edit_mask, mask_out, {}))
    for name, image in result.extras.items():
        files.append((image, extras_out.get(name, output.with_suffix(f".{name}.png")), dpi))
    written = []
    for image, path, info in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG", **info)
        written.append(f"{path} ({image.width}×{image.height})")
    return written
