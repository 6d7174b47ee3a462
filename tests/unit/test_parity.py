"""Every command of the core's table exists on every front end with the same options: Discord's slash
commands, Telegram's command handlers and menu, the console's lines. A command added to the table and not
to a front end fails here, by name."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import discord
import pytest
from pydantic import SecretStr
from telegram.ext import CommandHandler, MessageHandler

from bots.chat_lines import parse_command
from bots.discord.files import AttachmentDownloader
from bots.discord.interactions import DiscordFrontDesk
from bots.discord.tree import build_tree, option_names
from bots.telegram.app import COMMANDS, build_application
from core.config import ModelSettings, Settings
from core.imaging.idphoto.catalog import SuitOptions, parse_suit_options
from core.messages import LANGUAGES, MESSAGES, t
from core.ports import ChatRef
from core.studio.commands import Command, CommandSpec, Help, OptionSpec, Press, Upload, command_table
from core.studio.service import Studio, bootstrap
from tests.conversation import jpeg

TABLE = command_table()
NAMES = [spec.name for spec in TABLE]
TELEGRAM_ONLY = {"start"}  # Telegram's own greeting command
# Commands that need photos, and how many: each front end must be able to send them all in one go.
WITH_PHOTOS = {
    spec.name: sum(1 for o in spec.options if o.kind == "attachment" and o.required)
    for spec in TABLE
    if any(o.kind == "attachment" and o.required for o in spec.options)
}
OPERATORS_ONLY = {"admin"}  # outside the table and every member's menu, on both platforms


async def _ignore_command(interaction: discord.Interaction, name: str, options: dict[str, Any]) -> None:
    return None


async def _ignore_error(interaction: discord.Interaction, error: Exception) -> None:
    return None


@pytest.fixture(scope="module")
def discord_commands() -> dict[str, discord.app_commands.Command[Any, Any, Any]]:
    tree = build_tree(discord.Client(intents=discord.Intents.none()), _ignore_command, _ignore_error)
    return {command.name: command for command in tree.get_commands()}  # type: ignore[misc]


@pytest.fixture
def studio(tmp_path: Path) -> Studio:
    return bootstrap(Settings(data_dir=tmp_path / "data"))


@pytest.fixture
def drawing_studio(tmp_path: Path) -> Studio:
    """A server whose models draw faces, so that it offers every command of the table (/sketch too)."""
    return bootstrap(Settings(data_dir=tmp_path / "data", models=ModelSettings(face_prior="stylegan")))


@pytest.fixture
def telegram_handlers(studio: Studio) -> list[Any]:
    settings = studio.settings.model_copy(deep=True)
    settings.telegram.token = SecretStr("123:abc")
    application = build_application(settings, studio)
    return [handler for handlers in application.handlers.values() for handler in handlers]


@pytest.fixture
def telegram_commands(telegram_handlers: list[Any]) -> set[str]:
    return {
        name
        for handler in telegram_handlers
        if isinstance(handler, CommandHandler)
        for name in handler.commands
    }


def test_no_front_end_offers_a_command_the_core_does_not_have(
    discord_commands: dict[str, Any], telegram_commands: set[str]
) -> None:
    assert set(discord_commands) - OPERATORS_ONLY == set(NAMES)
    assert telegram_commands - TELEGRAM_ONLY - OPERATORS_ONLY == set(NAMES)
    assert set(COMMANDS) - TELEGRAM_ONLY == set(NAMES)  # the menu shows them all, and nothing more
    assert OPERATORS_ONLY <= set(discord_commands) & telegram_commands


@pytest.mark.parametrize("spec", TABLE, ids=NAMES)
def test_discord_has_the_command_with_the_same_options(
    spec: CommandSpec, discord_commands: dict[str, Any]
) -> None:
    command = discord_commands[spec.name]
    expected = [
        (name, spec_option.required and number == 0, list(spec_option.choices))
        for spec_option in spec.options
        for number, name in enumerate(option_names(spec_option))
    ]
    actual = [(p.name, p.required, [choice.value for choice in p.choices]) for p in command.parameters]
    assert actual == expected
    kinds = {p.name: p.type for p in command.parameters}
    for spec_option in spec.options:
        wanted = _OPTION_TYPES[spec_option.kind]
        assert all(kinds[name] is wanted for name in option_names(spec_option))
    bounds = {p.name: (p.min_value, p.max_value) for p in command.parameters}
    for spec_option in spec.options:
        if spec_option.bounds is not None:  # Discord itself keeps the number within them
            assert bounds[spec_option.name] == spec_option.bounds


_OPTION_TYPES = {
    "attachment": discord.AppCommandOptionType.attachment,
    "choice": discord.AppCommandOptionType.string,
    "number": discord.AppCommandOptionType.number,
}


@pytest.mark.parametrize("spec", TABLE, ids=NAMES)
def test_telegram_and_the_console_take_the_command_and_every_choice_as_a_word(
    spec: CommandSpec, telegram_commands: set[str]
) -> None:
    assert spec.name in telegram_commands
    chat = ChatRef("console", "operator", "local")
    [command] = parse_command([f"/{spec.name}"], chat, "k")
    assert not isinstance(command, Press)
    assert isinstance(command, Help) == (spec.name == "help")
    for option in spec.options:
        for choice in option.choices:
            assert _chosen(option, parse_suit_options([choice])) == choice


def _chosen(option: OptionSpec, options: SuitOptions) -> str:
    """What a parsed word set for ``option``: the field of the same name, or the tie/cut pair for "look"."""
    if option.name == "look":
        return "women" if options.cut == "women" else ("tie" if options.tie else "no-tie")
    return str(getattr(options, option.name))


@pytest.mark.parametrize(
    ("platform", "key"), [("telegram", "help"), ("console", "help"), ("discord", "help.discord")]
)
def test_help_explains_the_platforms_own_way_of_attaching_photos(
    drawing_studio: Studio, platform: str, key: str
) -> None:

    reply = asyncio.run(drawing_studio.handle(Help(chat=ChatRef(platform, "1", "1", "ko"))))
    assert reply.text == t(key, "ko")


@pytest.mark.parametrize("spec", TABLE, ids=NAMES)
def test_every_command_is_described_and_in_the_help_in_every_language(spec: CommandSpec) -> None:
    keys = [f"cmd.{spec.name}", *(f"opt.{spec.name}.{option.name}" for option in spec.options)]
    for lang in LANGUAGES:
        assert [key for key in keys if key not in MESSAGES[lang]] == [], lang  # Discord would show "…"
        if spec.name != "help":
            for help_key in ("help", "help.discord"):
                assert f"/{spec.name}" in t(help_key, lang), (help_key, lang)


def _uploads(command: Command) -> list[Upload]:
    return [value for value in vars(command).values() if isinstance(value, Upload)]


@pytest.mark.parametrize(("name", "photos"), WITH_PHOTOS.items(), ids=list(WITH_PHOTOS))
def test_a_command_that_needs_photos_takes_them_all_at_once_on_every_front_end(
    name: str, photos: int, telegram_handlers: list[Any], studio: Studio, tmp_path: Path
) -> None:
    # Telegram: the command as the caption of a photo (the others come in its album or it replies to one).
    captions = {str(handler.filters) for handler in telegram_handlers if isinstance(handler, MessageHandler)}
    assert any(f"CaptionCommand({name})" in caption for caption in captions), captions
    # The console: one path per photo, on the command's line.
    chat = ChatRef("console", "operator", "local")
    paths = [str(jpeg(tmp_path / f"{n}.jpg")) for n in range(photos)]
    [command] = parse_command([f"/{name}", *paths], chat, "k")
    assert len(_uploads(command)) == photos
    # Discord: one attachment option per photo.
    spec = next(spec for spec in TABLE if spec.name == name)
    attachments = [o.name for o in spec.options if o.kind == "attachment" and o.required]
    state = SimpleNamespace(http=None)
    options = {
        option: discord.Attachment(
            data={"id": n, "size": 10, "filename": "a.jpg", "url": "http://cdn/a.jpg", "proxy_url": ""},
            state=cast(Any, state),
        )
        for n, option in enumerate(attachments)
    }
    interaction = SimpleNamespace(
        id=1,
        user=SimpleNamespace(id=2),
        channel_id=3,
        locale=discord.Locale.american_english,
        filesize_limit=25 * 1024 * 1024,
    )
    desk = DiscordFrontDesk(studio.settings, studio, cast(Any, None), AttachmentDownloader())
    command = desk.command(cast(Any, interaction), name, options)
    assert len(_uploads(command)) == photos
