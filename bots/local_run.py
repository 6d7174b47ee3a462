"""``atelier run unmask``: the production pipeline on one file, in this process, with a progress bar."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from core.config import Settings
from core.errors import UserError
from core.intake import intake_image
from core.messages import t


def run_unmask_locally(settings: Settings, photo: Path, output: Path, mask_out: Path | None) -> int:
    """Returns the process exit code: 0 done, 1 the photo was refused (the reason is printed)."""
    console = Console(stderr=True)
    lang = settings.default_language
    try:
        clean = intake_image(photo.read_bytes(), settings.intake)
    except UserError as error:
        console.print(f"[red]{error.render(lang)}[/red]")
        return 1

    with Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(t("stage.detect", lang), total=1.0)
        bar.update(task, description=f"loading {settings.models.tier} models")
        from core.pipelines.unmask import build_unmask_pipeline

        pipeline = build_unmask_pipeline(settings.models)

        def on_progress(stage: str, fraction: float) -> None:
            bar.update(task, description=t(f"stage.{stage}", lang), completed=fraction)

        try:
            result = pipeline.run(clean.image, progress=on_progress)
        except UserError as error:
            console.print(f"[red]{error.render(lang)}[/red]")
            return 1
        bar.update(task, completed=1.0, description=t("job.done", lang))

    output.parent.mkdir(parents=True, exist_ok=True)
    result.image.save(output, format="PNG")
    if mask_out is not None:
        mask_out.parent.mkdir(parents=True, exist_ok=True)
        result.edit_mask.save(mask_out, format="PNG")
    timings = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in result.timings.items())
    console.print(f"wrote {output} ({result.image.width}×{result.image.height}); {timings}")
    return 0
