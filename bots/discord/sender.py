"""Sending finished jobs back to Discord, outside any interaction handler.

While the interaction that made a job is young, its token answers: progress edits the status message through
it and results come as followups (these need no permission in the channel). An interaction token lives
15 minutes and only in this process's memory, so after ``interaction_token_ttl_s``, after a restart, or when
Discord already refuses the token, everything goes to the channel (or DM) with the bot token instead: the
result mentions the member and replies to the status message; the answers of a private command (a selfie
verdict, "your model is ready") go to the member's direct messages. A channel that is gone or closed to the
bot raises ``Undeliverable``; any other 4xx Discord will answer again to the same request (400 Invalid Form
Body, 403 Missing Permissions, 413 too large) raises ``Rejected``, never retried. Rate limits (429) are waited
out by discord.py itself, and so, a few times, are its 5xx; what is left is retried later by the Deliverer.

A result is one message with the picture (fitted to the upload limit by ``bots.upload_fit``, the helper both
platforms share) and one per attachment, each a part of the delivery (``SentParts``): a retry sends only the
messages that did not arrive.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import discord

from bots.discord.views import clip, make_view
from bots.upload_fit import fit_upload
from core.config import MB, DiscordSettings
from core.imaging.intake import human_number
from core.kinds import KINDS
from core.messages import t
from core.ports import JobView
from core.studio.commands import Buttons
from core.studio.delivery import Attachment, Rejected, Undeliverable
from core.studio.sent_parts import SentParts

log = logging.getLogger(__name__)

# Discord's answers for a token it no longer honours: 401 Invalid Webhook Token, 404 Unknown Webhook /
# Unknown Interaction.
_EXPIRED_CODES = frozenset({50027, 10015, 10062})
_UNKNOWN_MESSAGE = 10008


@dataclass(frozen=True)
class _Live:
    interaction: discord.Interaction
    expires_at: float
    original: bool  # the status message is the interaction's own response (else one of its followups)
    private: bool  # answered only to its member: so are the job's followups


@dataclass(frozen=True)
class _Outgoing:
    content: str
    files: tuple[tuple[bytes, str], ...] = ()
    buttons: Buttons = ()


class DiscordResultSender:
    """The ``ResultSender`` for Discord."""

    platform = "discord"

    def __init__(
        self,
        client: discord.Client,
        settings: DiscordSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_s = min(settings.interaction_token_ttl_s, 15 * 60)
        self._clock = clock
        self._live: dict[str, _Live] = {}
        self._upload_limits: dict[str, int] = {}

    def remember(
        self,
        job_id: str,
        interaction: discord.Interaction,
        received_at: float,
        *,
        original: bool = True,
        private: bool = False,
    ) -> None:
        """Keep the interaction that made ``job_id`` (received at ``received_at`` on this sender's clock)
        for as long as its token is good."""
        now = self._clock()
        for stale in [key for key, live in self._live.items() if live.expires_at <= now]:
            self._forget(stale)
        self._live[job_id] = _Live(interaction, received_at + self._ttl_s, original, private)
        self._upload_limits[job_id] = interaction.filesize_limit

    def live(self, job_id: str) -> discord.Interaction | None:
        entry = self._live.get(job_id)
        if entry is None or entry.expires_at <= self._clock():
            self._forget(job_id)
            return None
        return entry.interaction

    def _forget(self, job_id: str) -> None:
        self._live.pop(job_id, None)
        self._upload_limits.pop(job_id, None)

    # --- the ResultSender protocol --------------------------------------------------------------------
    async def show_progress(self, job: JobView, text: str, buttons: Buttons = ()) -> None:
        if job.status_message_id is None:
            return
        message_id, view = int(job.status_message_id), make_view(buttons)
        interaction, entry = self.live(job.id), self._live.get(job.id)
        if interaction is not None and entry is not None:
            try:
                if entry.original:
                    await interaction.edit_original_response(content=clip(text), view=view)
                else:
                    await interaction.followup.edit_message(message_id, content=clip(text), view=view)
                return
            except discord.HTTPException as error:
                if not _expired(error):
                    raise
                self._forget(job.id)
        message = self._channel(job).get_partial_message(message_id)
        try:
            await message.edit(content=clip(text), view=view)
        except discord.NotFound as error:
            if error.code != _UNKNOWN_MESSAGE:
                raise Undeliverable(error.text) from error
            log.debug("status message of job %s is gone", job.id)  # the member deleted it
        except discord.Forbidden as error:
            raise Undeliverable(error.text) from error

    async def send_result(
        self,
        job: JobView,
        result_png: bytes,
        caption: str,
        attachments: Sequence[Attachment] = (),
        buttons: Buttons = (),
        parts: SentParts | None = None,
    ) -> None:
        parts = parts if parts is not None else SentParts()
        # The server's limit while the interaction is known; else the one every server and DM accepts.
        limit = self._upload_limits.get(job.id, discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES)
        messages = [("result", caption, result_png, f"atelier-{job.id}", buttons)]
        messages += [
            (f"attachment:{extra.name}", extra.caption, extra.data, f"atelier-{job.id}-{extra.name}", ())
            for extra in attachments
        ]
        for part, text, png, stem, part_buttons in messages:
            if part in parts:
                continue
            fitted = await asyncio.to_thread(fit_upload, png, limit)
            if fitted.reduced:
                note = t("result.upload_reduced", job.chat.lang, limit_mb=human_number(limit / MB))
                text = f"{text}\n{note}"
            outgoing = _Outgoing(text, ((fitted.data, f"{stem}.{fitted.suffix}"),), part_buttons)
            await parts.send(part, partial(self._send, job, outgoing))

    async def send_text(self, job: JobView, text: str, parts: SentParts | None = None) -> None:
        await (parts if parts is not None else SentParts()).send(
            "text", partial(self._send, job, _Outgoing(text))
        )

    # --- sending --------------------------------------------------------------------------------------
    async def _send(self, job: JobView, outgoing: _Outgoing) -> None:
        content = clip(f"<@{job.chat.user_id}> {outgoing.content}")
        mentions = discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(int(job.chat.user_id))], replied_user=False
        )
        extra: dict[str, Any] = {"allowed_mentions": mentions}
        view = make_view(outgoing.buttons)
        if view is not None:
            extra["view"] = view
        interaction = self.live(job.id)
        if interaction is not None:
            # Answers to a private command stay private (the selfie verdicts of a /train).
            private = self._live[job.id].private
            try:
                await interaction.followup.send(
                    content, files=_files(outgoing), wait=True, ephemeral=private, **extra
                )
                return
            except discord.HTTPException as error:
                if not _expired(error):
                    _raise_if_permanent(error)
                    raise
                self._forget(job.id)
                log.info("interaction token of job %s expired; sending to the channel", job.id)
        private = job.kind in KINDS and KINDS[job.kind].private
        if job.status_message_id is not None and not private:
            extra["reference"] = discord.MessageReference(
                message_id=int(job.status_message_id),
                channel_id=int(job.chat.chat_id),
                fail_if_not_exists=False,
            )
        try:
            # The answer to a private command (a selfie verdict, "your model is ready") goes to the member's
            # direct messages once it cannot be an ephemeral followup: never to a shared channel.
            channel = await self._client.create_dm(discord.Object(int(job.chat.user_id))) if private else None
            await (channel or self._channel(job)).send(content, files=_files(outgoing), **extra)
        except (discord.Forbidden, discord.NotFound) as error:
            raise Undeliverable(f"{error.status} {error.text}") from error
        except discord.HTTPException as error:
            _raise_if_permanent(error)
            raise

    def _channel(self, job: JobView) -> discord.PartialMessageable:
        return self._client.get_partial_messageable(int(job.chat.chat_id))


def _files(outgoing: _Outgoing) -> list[discord.File]:
    # A discord.File is consumed by one request: made afresh for every attempt.
    return [discord.File(io.BytesIO(data), filename=name) for data, name in outgoing.files]


def _expired(error: discord.HTTPException) -> bool:
    return error.status == 401 or error.code in _EXPIRED_CODES


def _raise_if_permanent(error: discord.HTTPException) -> None:
    """A 4xx is Discord's answer to the request itself and comes again every time: ``Rejected``. (A 429 never
    gets here: discord.py waits it out.) 5xx and network errors are left to be retried."""
    if 400 <= error.status < 500 and error.status != 429:
        raise Rejected(f"{error.status} {error.text}") from error
