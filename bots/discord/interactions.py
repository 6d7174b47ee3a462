"""Interactions in, replies out: a slash command or a button press becomes a core command, the studio answers,
and the reply is rendered as Discord shows it.

Discord wants an answer within 3 seconds, so the first thing every handler awaits is the defer; only then
come the database, Redis and the attachment downloads (inside ``Studio.handle``). Personal commands are
deferred ephemerally (only the member sees them); the others publicly, and an error in answer to those
replaces the public "thinking..." message with an ephemeral one. A button press is deferred as an update of
the message it is on: a ``replace`` reply edits that message, others become followups.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands

from bots.discord.files import AttachmentDownloader
from bots.discord.sender import DiscordResultSender
from bots.discord.views import clip, make_view
from core.config import Settings
from core.messages import normalize_language, t
from core.ports import ChatRef
from core.studio import commands
from core.studio.commands import Command, Reply, Upload
from core.studio.service import Studio

log = logging.getLogger(__name__)

# What one member does with their own data is not the channel's business; /train carries their selfies.
PRIVATE_COMMANDS = frozenset({"help", "train", "status", "cancel", "settings", "forget", "privacy", "admin"})
_PLAIN: dict[str, type[Command]] = {
    "help": commands.Help,
    "done": commands.Done,
    "status": commands.Status,
    "cancel": commands.Cancel,
    "settings": commands.Settings,
    "forget": commands.Forget,
    "privacy": commands.Privacy,
}


def is_private(name: str, options: dict[str, Any]) -> bool:
    """Whether only the member sees the answer. /sketch without a drawing answers with a link that draws as
    them, so that answer is theirs alone; with a drawing it is a job like the others, seen by the channel."""
    return name in PRIVATE_COMMANDS or (name == "sketch" and "drawing" not in options)


class DiscordFrontDesk:
    def __init__(
        self,
        settings: Settings,
        studio: Studio,
        sender: DiscordResultSender,
        downloader: AttachmentDownloader,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.studio, self.sender, self.downloader = settings, studio, sender, downloader
        self._clock = clock

    # --- slash commands ---------------------------------------------------------------------------------
    async def on_command(self, interaction: discord.Interaction, name: str, options: dict[str, Any]) -> None:
        received, private = self._clock(), is_private(name, options)
        if not await _acknowledge(interaction, thinking=True, ephemeral=private):
            return
        try:
            reply = await self.studio.handle(self.command(interaction, name, options))
            await self._answer_command(interaction, reply, private, received)
        except Exception as error:
            await self.apologise(interaction, error, private=private)

    def command(self, interaction: discord.Interaction, name: str, options: dict[str, Any]) -> Command:
        """The core command for ``/name`` with its options (attachments become ``Upload``s, not fetched)."""
        chat, key = self.chat(interaction), f"dc:{interaction.id}"
        limit = min(interaction.filesize_limit, self.settings.discord.max_download_bytes)
        uploads: dict[str, Upload] = {
            option: self.downloader.upload(value, limit)
            for option, value in options.items()
            if isinstance(value, discord.Attachment)
        }
        words = tuple(value for value in options.values() if isinstance(value, str))
        if name == "unmask":
            return commands.Unmask(chat=chat, key=key, photo=uploads.get("photo"))
        if name == "suit":
            return commands.Suit(
                chat=chat, key=key, photo=uploads.get("photo"), words=words, exemplar=uploads.get("example")
            )
        if name == "tryon":
            return commands.TryOn(
                chat=chat, key=key, photo=uploads.get("photo"), garment=uploads.get("garment")
            )
        if name == "sketch":
            strength = options.get("strength")
            return commands.Sketch(
                chat=chat,
                key=key,
                drawing=uploads.get("drawing"),
                words=() if strength is None else (f"{float(strength):g}",),
            )
        if name == "admin":
            return commands.Admin(chat=chat, key=key, words=tuple(" ".join(words).split()))
        if name == "train":
            # photo, photo2, ... photo10, in that order whichever ones the member filled
            ordered = sorted(uploads.items(), key=lambda item: int(item[0].removeprefix("photo") or 1))
            return commands.Train(chat=chat, key=key, photos=tuple(upload for _, upload in ordered))
        return _PLAIN[name](chat=chat, key=key)

    async def _answer_command(
        self, interaction: discord.Interaction, reply: Reply, private: bool, received: float
    ) -> None:
        if reply.silent:  # a redelivered interaction: the first copy answered
            await interaction.delete_original_response()
        elif reply.error and not private:
            await _replace_with_ephemeral(interaction, reply.text)
        else:
            message = await interaction.edit_original_response(
                content=clip(reply.text), view=make_view(reply.buttons)
            )
            await self._track(reply, interaction, message.id, received, original=True, private=private)

    # --- button presses ---------------------------------------------------------------------------------
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Every interaction reaches the client's ``on_interaction``; slash commands are the tree's."""
        if interaction.type is discord.InteractionType.component:
            await self.on_press(interaction)

    async def on_press(self, interaction: discord.Interaction) -> None:
        received = self._clock()
        if not await _acknowledge(interaction):  # a deferred update: the message stays as it is for now
            return
        try:
            payload: dict[str, Any] = dict(interaction.data or {})
            data = str(payload.get("custom_id", ""))
            reply = await self.studio.handle(
                commands.Press(chat=self.chat(interaction), key=f"dc:{interaction.id}", data=data)
            )
            await self._answer_press(interaction, reply, received)
        except Exception as error:
            await self.apologise(interaction, error, private=True)

    async def _answer_press(self, interaction: discord.Interaction, reply: Reply, received: float) -> None:
        if reply.silent:
            return
        if reply.error:  # someone else's button, an expired choice: only the presser sees why
            await interaction.followup.send(clip(reply.text), ephemeral=True)
            return
        view = make_view(reply.buttons)
        on_ephemeral = interaction.message is not None and interaction.message.flags.ephemeral
        if reply.replace:
            message = await interaction.edit_original_response(content=clip(reply.text), view=view)
            await self._track(reply, interaction, message.id, received, original=True, private=on_ephemeral)
            return
        extra: dict[str, Any] = {} if view is None else {"view": view}
        followup = await interaction.followup.send(
            clip(reply.text), ephemeral=on_ephemeral, wait=True, **extra
        )
        await self._track(reply, interaction, followup.id, received, original=False, private=on_ephemeral)

    # --- shared -----------------------------------------------------------------------------------------
    async def _track(
        self,
        reply: Reply,
        interaction: discord.Interaction,
        message_id: int,
        received: float,
        *,
        original: bool,
        private: bool,
    ) -> None:
        """A status message: progress edits it, through the interaction while its token lives. Jobs the reply
        only announced (selfie checks) answer through the same interaction, as followups."""
        for job_id in reply.answers:
            self.sender.remember(job_id, interaction, received, private=private)
        if reply.job_id is None:
            return
        self.sender.remember(reply.job_id, interaction, received, original=original, private=private)
        await asyncio.to_thread(self.studio.set_status_message, reply.job_id, str(message_id))

    def chat(self, interaction: discord.Interaction) -> ChatRef:
        channel_id = interaction.channel_id if interaction.channel_id is not None else interaction.user.id
        return ChatRef("discord", str(interaction.user.id), str(channel_id), self.lang(interaction))

    def lang(self, interaction: discord.Interaction) -> str:
        return normalize_language(interaction.locale.value, self.settings.default_language)

    async def apologise(
        self, interaction: discord.Interaction, error: BaseException, *, private: bool
    ) -> None:
        """The central error path: traceback and error id to the log; the id, privately, to the member."""
        error_id = uuid.uuid4().hex[:8]
        what = interaction.command.name if interaction.command is not None else interaction.type.name
        log.error("interaction %s (%s) failed (error id %s)", interaction.id, what, error_id, exc_info=error)
        text = t("error.internal", self.lang(interaction), error_id=error_id)
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(text, ephemeral=True)
            elif interaction.type is not discord.InteractionType.application_command:
                await interaction.followup.send(text, ephemeral=True)
            elif private:  # deferred ephemerally: the apology takes the place of "thinking..."
                await interaction.edit_original_response(content=text, view=None)
            else:
                await _replace_with_ephemeral(interaction, text)
        except discord.HTTPException as failure:
            log.warning("could not tell the member about error %s: %s", error_id, failure)

    async def on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Failures before our callback runs (an unknown command, an option discord.py cannot convert)."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        await self.apologise(interaction, cause, private=False)


async def _acknowledge(
    interaction: discord.Interaction, *, thinking: bool = False, ephemeral: bool = False
) -> bool:
    """Defer within Discord's 3 seconds; ``False`` when Discord no longer takes the interaction (too late or
    answered elsewhere), and nothing else can be said to it."""
    try:
        await interaction.response.defer(thinking=thinking, ephemeral=ephemeral)
    except discord.HTTPException as error:
        log.warning("interaction %s could not be acknowledged: %s", interaction.id, error)
        return False
    return True


async def _replace_with_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """After a public defer: remove the public "thinking..." message, then answer only the member (the first
    followup after a defer would otherwise become that public message)."""
    try:
        await interaction.delete_original_response()
    except discord.NotFound:
        pass
    await interaction.followup.send(clip(text), ephemeral=True)
