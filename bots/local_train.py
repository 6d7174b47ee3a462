"""``atelier train --user-dir DIR``: an identity model from a folder of selfies, for operators (no bot, no
queue). Each photo goes through the same checks as in the chat; the accepted ones train the LoRA with the
same recipe the train queue uses, and the adapter is written as safetensors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from core import identity
from core.config import Settings
from core.errors import UserError
from core.imaging.intake import intake_image

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from dreambooth.selfies import CheckedSelfie

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def train_locally(settings: Settings, user_dir: Path, output: Path, name: str | None = None) -> int:
    """Exit code: 0 trained, 1 too few photos passed the checks, 2 the tier cannot train."""
    from dreambooth.selfies import build_selfie_checker

    console = Console(stderr=True)
    lang = settings.default_language
    if settings.models.tier == "offline":
        console.print(
            "[red]The offline tier has no diffusion model to train; use --tier standard (or tiny).[/red]"
        )
        return 2
    checker = build_selfie_checker(settings.train)
    table = Table("photo", "verdict")
    accepted: list[CheckedSelfie] = []
    for path in sorted(p for p in user_dir.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES):
        try:
            image = intake_image(path.read_bytes(), settings.intake).image
            checked = checker.check(
                image, [a.embedding for a in accepted], accepted_hashes=[a.dhash for a in accepted]
            )
        except UserError as error:
            table.add_row(path.name, f"[yellow]{error.render(lang)}[/yellow]")
            continue
        accepted.append(checked)
        table.add_row(path.name, "[green]accepted[/green]")
    console.print(table)
    accepted = accepted[: settings.train.max_selfies]
    if len(accepted) < settings.train.min_selfies:
        console.print(
            f"[red]{len(accepted)} photos passed; at least {settings.train.min_selfies} are needed.[/red]"
        )
        return 1
    token = identity.identity_token(identity.owner_slug("local", name or user_dir.resolve().name))
    adapter = _train(settings, [a.aligned for a in accepted], [a.landmarks for a in accepted], token, console)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(adapter)
    console.print(f"adapter: {output} ({len(adapter) / 1e6:.1f} MB); prompt token: [bold]{token}[/bold]")
    return 0


def _train(
    settings: Settings, images: list[Image.Image], landmarks: list[np.ndarray], token: str, console: Console
) -> bytes:
    from core.imaging.backends import registry
    from dreambooth.checkpoints import MemoryCheckpointStore
    from dreambooth.training import train_on_inpainter

    with Progress(
        TextColumn("training"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as bar:
        task = bar.add_task("train", total=settings.train.steps)

        def on_step(step: int, total: int, loss: float) -> None:
            bar.update(task, completed=step, total=total)

        result, _ = train_on_inpainter(
            registry.shared("inpainter", settings.models),
            images,
            landmarks,
            token,
            settings.train,
            MemoryCheckpointStore(),
            on_step,
        )
    return result.adapter
