"""The slash commands, built from the core's command table so that Discord and Telegram offer the same
commands with the same options and choices, and their sync (guild-scoped for development, global for
production).

discord.py reads a command's options from its callback's signature; ours are data, so each command gets one
generic callback whose ``__signature__`` lists the options of its ``CommandSpec``. Names, descriptions and
choice labels come from the message catalogue in English, with the other catalogue languages supplied to
Discord through a ``Translator``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Optional

import discord
from discord import app_commands
from discord.app_commands import locale_str

from core.config import DiscordSettings
from core.messages import MESSAGES, t
from core.studio.commands import CommandSpec, OptionSpec, command_table

log = logging.getLogger(__name__)

CommandHandler = Callable[[discord.Interaction, str, dict[str, Any]], Awaitable[None]]
ErrorHandler = Callable[[discord.Interaction, app_commands.AppCommandError], Coroutine[Any, Any, None]]

# Discord locales that have a catalogue language (English is the commands' own language).
LOCALES = {discord.Locale.korean: "ko"}
MAX_DESCRIPTION = 100
# Choice labels where the catalogue key is not "<command>.<option>.<choice>".
_CHOICE_KEYS = {
    ("suit", "look", "tie"): "suit.tie.tie",
    ("suit", "look", "no-tie"): "suit.tie.no-tie",
    ("suit", "look", "women"): "suit.cut.women",
}


class CatalogueTranslator(app_commands.Translator):
    """Korean (and any later catalogue language) names of descriptions and choices, by catalogue key."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        key, lang = string.extras.get("key"), LOCALES.get(locale)
        if key is None or lang is None or key not in MESSAGES.get(lang, {}):
            return None
        return t(key, lang)[:MAX_DESCRIPTION]


def option_names(option: OptionSpec) -> list[str]:
    """``photo`` or, for an option taken several times, ``photo, photo2, ... photoN``."""
    return [option.name] + [f"{option.name}{n}" for n in range(2, option.repeat + 1)]


def build_tree(
    client: discord.Client,
    on_command: CommandHandler,
    on_error: ErrorHandler,
    specs: Sequence[CommandSpec] | None = None,
) -> app_commands.CommandTree:
    """The slash commands of ``specs`` (default: the whole table; a server offers what it can do, less
    commands it cannot, ``offered_commands``), /admin, and the error handler."""
    tree = app_commands.CommandTree(client)
    for spec in command_table() if specs is None else specs:
        tree.add_command(_command(spec, on_command))
    tree.add_command(_admin_command(on_command))
    tree.error(on_error)
    return tree


def _admin_command(on_command: CommandHandler) -> app_commands.Command[Any, Any, None]:
    """/admin, outside the shared command table: Discord shows it to members with the Administrator
    permission only (a server owner can widen that in the server's integration settings); the core refuses
    anyone who is not an operator in the settings either way."""
    command = _command(CommandSpec("admin", (OptionSpec("args", "choice"),)), on_command)
    command.default_permissions = discord.Permissions(administrator=True)
    return command


async def sync_commands(tree: app_commands.CommandTree, settings: DiscordSettings) -> None:
    """Guild commands appear at once (development); global ones may take Discord up to an hour."""
    if not settings.sync_commands:
        return
    await tree.set_translator(CatalogueTranslator())
    if not settings.guild_ids:
        synced = await tree.sync()
        log.info("synced %d global slash commands", len(synced))
        return
    for guild_id in settings.guild_ids:
        guild = discord.Object(guild_id)
        tree.copy_global_to(guild=guild)
        synced = await tree.sync(guild=guild)
        log.info("synced %d slash commands to guild %s", len(synced), guild_id)


def _command(spec: CommandSpec, on_command: CommandHandler) -> app_commands.Command[Any, Any, None]:
    name = spec.name

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        await on_command(interaction, name, {k: v for k, v in options.items() if v is not None})

    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    descriptions: dict[str, locale_str | str] = {}
    choices: dict[str, list[app_commands.Choice[str]]] = {}
    for option in spec.options:
        for number, param in enumerate(option_names(option)):
            required = option.required and number == 0
            kind = _annotation(option)
            parameters.append(
                inspect.Parameter(
                    param,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=kind if required else Optional[kind],  # noqa: UP045 (a runtime value)
                    default=inspect.Parameter.empty if required else None,
                )
            )
            descriptions[param] = _text(f"opt.{name}.{option.name}")
            if option.choices:
                choices[param] = [
                    app_commands.Choice(name=_choice_label(name, option.name, c), value=c)
                    for c in option.choices
                ]
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = descriptions  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_choices__ = choices  # type: ignore[attr-defined]
    return app_commands.Command(name=name, description=_text(f"cmd.{name}"), callback=callback)


def _annotation(option: OptionSpec) -> Any:
    """What discord.py makes of the option: an attachment, a number Discord keeps within its bounds, or a
    string (a choice, or a word the core parses)."""
    if option.kind == "attachment":
        return discord.Attachment
    if option.kind == "number":
        if option.bounds is None:
            return float
        low, high = option.bounds
        return app_commands.Range[float, low, high]
    return str


def _text(key: str) -> locale_str | str:
    """The English text of ``key``, translatable; Discord's placeholder while the catalogue lacks it."""
    if key not in MESSAGES["en"]:
        return "…"
    return locale_str(t(key, "en")[:MAX_DESCRIPTION], key=key)


def _choice_label(command: str, option: str, choice: str) -> locale_str | str:
    key = _CHOICE_KEYS.get((command, option, choice), f"{command}.{option}.{choice}")
    label = _text(key)
    return choice if label == "…" else label
