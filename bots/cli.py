"""The ``atelier`` command: the operator's front end and the composition root of every process.

Heavy libraries are imported inside the commands that need them, so ``atelier bot telegram`` never loads
torch and ``atelier --help`` is instant.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from core.config import Settings, Tier

app = typer.Typer(help="Atelier: a self-hosted portrait studio behind chat bots.", no_args_is_help=True)
run_app = typer.Typer(help="Run a pipeline locally on a file (no bot, no queue).", no_args_is_help=True)
bot_app = typer.Typer(help="Run a chat front end.", no_args_is_help=True)
models_app = typer.Typer(help="Model weights for the standard tier.", no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(bot_app, name="bot")
app.add_typer(models_app, name="models")


def _settings(tier: Tier | None = None) -> Settings:
    settings = _with(Settings(), "models", tier=tier)
    from core.logs import configure_logging

    configure_logging(settings.log_level)
    return settings


TierOption = Annotated[
    Tier | None, typer.Option("--tier", help="Model tier: offline (CPU, no downloads), standard (GPU), tiny.")
]


@run_app.command("unmask")
def run_unmask(
    photo: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A photo of a face wearing a mask.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (PNG).")],
    mask_out: Annotated[Path | None, typer.Option("--mask-out", help="Also save the edit mask here.")] = None,
    tier: TierOption = None,
    seed: Annotated[int | None, typer.Option(help="Random seed for the diffusion tiers.")] = None,
    steps: Annotated[int | None, typer.Option(help="Diffusion steps.")] = None,
) -> None:
    """Remove the face mask from PHOTO and write the result to OUTPUT."""
    from bots.local_run import run_locally

    raise typer.Exit(run_locally(_tuned(tier, seed, steps), "unmask", photo, output, mask_out=mask_out))


@run_app.command("suit")
def run_suit(
    photo: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A selfie or an ID photo.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the ID photo (PNG).")],
    style: Annotated[str, typer.Option(help="navy, charcoal or black.")] = "navy",
    format: Annotated[
        str, typer.Option("--format", help="passport-35x45, kr-passport-35x45, kr-resume-30x40, us-2x2in.")
    ] = "passport-35x45",
    background: Annotated[str, typer.Option(help="white, grey or blue.")] = "white",
    tie: Annotated[bool, typer.Option("--tie/--no-tie")] = True,
    women: Annotated[bool, typer.Option("--women", help="A women's cut (no tie).")] = False,
    dpi: Annotated[int, typer.Option(help="300 or 600.")] = 300,
    paper: Annotated[str, typer.Option(help="Print sheet paper: 4x6in or 10x15cm.")] = "4x6in",
    example: Annotated[
        Path | None,
        typer.Option("--example", exists=True, dir_okay=False, help="A picture of the suit to follow."),
    ] = None,
    sheet_out: Annotated[
        Path | None, typer.Option("--sheet-out", help="Print sheet (default: OUTPUT.sheet.png).")
    ] = None,
    mask_out: Annotated[Path | None, typer.Option("--mask-out", help="Also save the edit mask here.")] = None,
    tier: TierOption = None,
    seed: Annotated[int | None, typer.Option(help="Random seed for the diffusion tiers.")] = None,
    steps: Annotated[int | None, typer.Option(help="Diffusion steps.")] = None,
) -> None:
    """Make a formal ID photo of PHOTO: suit painted on, plain background, cropped to FORMAT, plus a print
    sheet."""
    from bots.local_run import run_locally
    from core.errors import UserError
    from core.imaging.idphoto.catalog import parse_suit_options

    words = [style, format, background, "women" if women else ("tie" if tie else "no-tie"), str(dpi), paper]
    try:
        options = parse_suit_options(words)
    except UserError as error:
        raise typer.BadParameter(error.render("en")) from None
    extras = {} if sheet_out is None else {"sheet": sheet_out}
    settings = _tuned(tier, seed, steps)
    raise typer.Exit(
        run_locally(
            settings,
            "suit",
            photo,
            output,
            mask_out=mask_out,
            options=options.as_params(),
            extras_in={} if example is None else {"exemplar": example},
            extras_out=extras,
        )
    )


@run_app.command("tryon")
def run_tryon(
    photo: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A photo of one person, from the hips up.")
    ],
    garment: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="A shop photo of a top on a plain background, or someone wearing it.",
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (PNG).")],
    mask_out: Annotated[Path | None, typer.Option("--mask-out", help="Also save the edit mask here.")] = None,
    tier: TierOption = None,
    seed: Annotated[int | None, typer.Option(help="Random seed for the diffusion tiers.")] = None,
    fidelity: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="How closely to copy the garment, 0..1 (the diffusion tiers)."),
    ] = None,
) -> None:
    """Dress the person in PHOTO in the top from GARMENT and write the result to OUTPUT."""
    from bots.local_run import run_locally

    options = {name: value for name, value in (("seed", seed), ("fidelity", fidelity)) if value is not None}
    raise typer.Exit(
        run_locally(
            _settings(tier),
            "tryon",
            photo,
            output,
            mask_out=mask_out,
            options=options,
            extras_in={"garment": garment},
        )
    )


@run_app.command("sketch")
def run_sketch(
    drawing: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="A face drawn with dark lines on light paper or a canvas (or a photo).",
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result (PNG).")],
    strength: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="How closely the face follows the lines, 0 (loose) to 1 (close)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="The quick preview quality (standard tier).")] = False,
    tier: TierOption = None,
) -> None:
    """Paint a photo-real face from DRAWING and write it to OUTPUT (offline: needs the face prior,
    ATELIER_MODELS__FACE_PRIOR=stylegan)."""
    from bots.local_run import run_locally

    options: dict[str, object] = {"fast": fast}
    options |= {name: value for name, value in (("strength", strength), ("seed", seed)) if value is not None}
    raise typer.Exit(run_locally(_settings(tier), "sketch", drawing, output, options=options))


def _tuned(tier: Tier | None, seed: int | None, steps: int | None) -> Settings:
    return _with(_settings(tier), "models", seed=seed, steps=steps)


def _with(settings: Settings, section: str, **options: object) -> Settings:
    """A copy of ``settings`` with the command-line ``options`` that were given (not None) set in
    ``section``: settings are never changed in place."""
    given = {name: value for name, value in options.items() if value is not None}
    if not given:
        return settings
    changed = getattr(settings, section).model_copy(update=given)
    return settings.model_copy(update={section: changed})


@app.command()
def demo(
    photo: Annotated[
        Path | None,
        typer.Argument(exists=True, dir_okay=False, help="A masked photo (default: a generated sample)."),
    ] = None,
    output_dir: Annotated[Path, typer.Option("-o", "--output-dir")] = Path("out"),
    tier: TierOption = None,
) -> None:
    """Send one /unmask job through the whole service on this machine: embedded Redis, a real worker,
    the job database and blob store, delivery. Writes the input and the result to OUTPUT_DIR."""
    from bots.demo import run_demo

    raise typer.Exit(run_demo(_settings(tier), photo, output_dir))


@app.command()
def chat(
    script: Annotated[
        Path | None,
        typer.Option(
            "--script",
            exists=True,
            dir_okay=False,
            help="Read the conversation from this file, one line each.",
        ),
    ] = None,
    output_dir: Annotated[Path, typer.Option("-o", "--output-dir", help="Where results are written.")] = Path(
        "out"
    ),
    lang: Annotated[
        str | None, typer.Option("--lang", help="Reply language: en or ko (default: settings).")
    ] = None,
    user: Annotated[
        str, typer.Option("--user", help="The chat member you speak as (/as changes it).")
    ] = "operator",
    tier: TierOption = None,
) -> None:
    """Talk to the studio from this terminal: type /unmask path/to/photo.jpg and see the replies. The whole
    service runs on this machine as under `atelier serve` (embedded Redis, workers, delivery); results are
    written to OUTPUT_DIR. With --script or piped input, waits for every job's result before exiting."""
    from bots.chat_run import run_chat

    raise typer.Exit(run_chat(_settings(tier), output_dir, lang, user, script=script))


@app.command()
def serve(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    tier: TierOption = None,
    workers: Annotated[
        bool, typer.Option("--workers/--no-workers", help="Also run the workers (off on a bot-only host).")
    ] = True,
) -> None:
    """Everything on one machine: every bot with a token set (Telegram, Discord), the /sketch canvas with
    /metrics and /healthz, an embedded Redis (unless ATELIER_REDIS_URL is set) and workers for the gpu, cpu
    and train queues."""
    from bots.serve import serve as run_serve

    raise typer.Exit(run_serve(_settings(tier), concurrency=concurrency, workers=workers))


@app.command()
def worker(
    queues: Annotated[
        str, typer.Option("--queues", "--queue", "-Q", help="Comma-separated: gpu, cpu, train.")
    ] = "gpu,cpu",
    concurrency: Annotated[int | None, typer.Option(help="Pool processes (default: settings).")] = None,
    tier: TierOption = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve /metrics and /healthz on this port.")
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="Address for --metrics-port (0.0.0.0 in a container).")
    ] = "127.0.0.1",
) -> None:
    """A Celery worker consuming QUEUES. Models load once per worker process."""
    settings = _settings(tier)
    metrics_dir = None
    if metrics_port is not None:
        from jobs.monitor import use_multiprocess_dir

        metrics_dir = use_multiprocess_dir()  # before anything imports prometheus-client
    from jobs.worker import run_worker

    try:
        run_worker(
            settings,
            [q.strip() for q in queues.split(",") if q.strip()],
            concurrency,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
        )
    finally:
        if metrics_dir is not None:
            from jobs.monitor import drop_multiprocess_dir

            drop_multiprocess_dir(metrics_dir)


@app.command()
def train(
    user_dir: Annotated[
        Path,
        typer.Option("--user-dir", exists=True, file_okay=False, help="A folder of one person's selfies."),
    ],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Adapter file (default: USER_DIR/identity.safetensors)."),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps.")] = None,
    tier: TierOption = None,
) -> None:
    """Train a personal identity LoRA from a folder of selfies (the same checks and recipe as /train)."""
    from bots.local_train import train_locally

    settings = _with(_settings(tier), "train", steps=steps)
    raise typer.Exit(train_locally(settings, user_dir, output or user_dir / "identity.safetensors"))


@bot_app.command("telegram")
def bot_telegram() -> None:
    """The Telegram bot (needs ATELIER_TELEGRAM__TOKEN and a reachable Redis)."""
    import asyncio

    from bots.telegram.app import run_bot

    settings = _settings()
    if settings.telegram.token is None:
        typer.echo("Set ATELIER_TELEGRAM__TOKEN to the token from @BotFather.", err=True)
        raise typer.Exit(2)
    asyncio.run(run_bot(settings))


@bot_app.command("discord")
def bot_discord() -> None:
    """The Discord bot (needs ATELIER_DISCORD__TOKEN and a reachable Redis)."""
    import asyncio

    from bots.discord.app import run_discord_bot

    settings = _settings()
    if settings.discord.token is None:
        typer.echo("Set ATELIER_DISCORD__TOKEN to the bot token from the Discord developer portal.", err=True)
        raise typer.Exit(2)
    asyncio.run(run_discord_bot(settings))


@models_app.command("download")
def models_download() -> None:
    """Pre-fetch every standard-tier model (Hugging Face ids or local paths from the settings)."""
    from core.imaging.models_download import download_models

    settings = _settings()
    paths = download_models(settings.models, progress=lambda line: typer.echo(line))
    for step, path in paths.items():
        typer.echo(f"{step}: {path}")


@models_app.command("check")
def models_check() -> None:
    """Exit non-zero when a standard-tier model is not available locally."""
    from core.imaging.models_download import missing_models

    missing = missing_models(_settings().models)
    for name in missing:
        typer.echo(f"missing: {name}", err=True)
    raise typer.Exit(1 if missing else 0)


@app.command("migrate")
def migrate_db() -> None:
    """Upgrade the job database to the latest schema (the services also do this at start-up)."""
    from core.store import migrate

    settings = _settings()
    migrate(settings.resolved_database_url)
    logging.getLogger(__name__).info("database at head")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
