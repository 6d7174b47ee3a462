"""The one service method every chat front end calls: ``Studio.handle(command) -> Reply``.

A command (``core.studio.commands``) comes in, platform-neutral; the reply goes out, platform-neutral. In
between: photos are checked by their declared size and type *before* they are downloaded, then persisted and
queued through the studio (synchronous database and blob calls run in a thread, so a slow database never
blocks the front end's event loop), and a user mistake becomes a reply in the user's language
(``Reply(error=True)``).
Any other exception propagates to the front end's error handler (log, apologise with an error id).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import Any, TypeVar

from core.config import Settings
from core.errors import UserError
from core.imaging.idphoto.catalog import SuitOptions, parse_suit_options
from core.imaging.intake import check_declared_size
from core.messages import MESSAGES, t
from core.metrics import counting_refusals
from core.ports import ChatRef, JobView
from core.studio import buttons, commands
from core.studio.admin import AdminDesk
from core.studio.commands import SILENT, Command, Reply, Upload, unavailable_commands
from core.studio.jobdesk import JobDesk, Submitted
from core.studio.sketch import SketchDesk
from core.studio.status import settings_text, status_text
from core.studio.training import IdentityDesk, TrainingState
from core.studio.tryon import TRYON, TryOnDesk

T = TypeVar("T")
UNMASK, SUIT = "/unmask", "/suit"
# A user who was just refused by a quota is not told again for this many seconds (per bot process).
QUOTA_NOTICE_QUIET_S = 30.0
# /status lists this many of a user's newest active jobs.
STATUS_JOBS = 10
# Documents that are obviously not photos are refused before download; the rest is sniffed by intake.
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp"}
UNKNOWN_MIME_TYPES = {"", "application/octet-stream"}


def looks_like_image(content_type: str | None, filename: str | None) -> bool:
    """False only when the type *and* the name both say "something else" (a PDF, a video)."""
    mime = (content_type or "").lower()
    suffix = PurePosixPath(filename or "").suffix.lower()
    says_other = mime not in UNKNOWN_MIME_TYPES and not mime.startswith("image/")
    return not (says_other and suffix not in IMAGE_EXTENSIONS)


class FrontDesk:
    """Routes each chat command and button press to the job desk or the identity desk."""

    def __init__(self, jobs: JobDesk, identities: IdentityDesk) -> None:
        self.jobs = jobs
        self.identities = identities
        self.admin = AdminDesk(jobs)
        self.tryon = TryOnDesk(self)
        self.sketch = SketchDesk(self)
        self.settings: Settings = jobs.settings
        self._refused: dict[tuple[str, str], float] = {}  # when each user last read a quota refusal

    async def handle(self, command: Command) -> Reply:
        handler = _HANDLERS[type(command)]
        try:
            if await self._call(self._banned, command.chat):
                return await self._ban_notice(command.chat)
            return await handler(self, command)
        except UserError as error:
            if self._quiet_refusal(command.chat, error):
                return SILENT
            return Reply(error.render(command.chat.lang), error=True)

    def _banned(self, chat: ChatRef) -> bool:
        return not self.admin.is_operator(chat) and self.jobs.store.is_banned(chat.platform, chat.user_id)

    async def _ban_notice(self, chat: ChatRef) -> Reply:
        """One notice per ban (across bot processes); after it, nothing the user sends is answered."""
        if await self._call(self.jobs.store.claim_ban_notice, chat.platform, chat.user_id):
            return Reply(t("banned", chat.lang), error=True)
        return SILENT

    # --- helpers ---------------------------------------------------------------------------------------
    async def _call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    async def fetch(self, upload: Upload) -> bytes:
        """The photo's bytes, after refusing what is obviously no image or announced too large."""
        if not looks_like_image(upload.content_type, upload.filename):
            raise UserError("intake.not_image")
        cap = min(filter(None, (upload.limit, self.settings.intake.max_bytes)))
        check_declared_size(upload.size, cap)
        return await upload.fetch(cap)

    async def fetch_own(self, chat: ChatRef, upload: Upload) -> bytes:
        """As ``fetch``, for a photo whose face is processed: it must be the requester's own. In a group,
        replying to another member's photo would process their face under the replier's account, where
        they could not ``/forget`` it."""
        if upload.sender_id is not None and upload.sender_id != chat.user_id:
            raise UserError("photo.not_yours")
        return await self.fetch(upload)

    async def may_start(self, chat: ChatRef, kind: str, key: str | None) -> None:
        """The pause and the quotas, looked at before a photo is downloaded: a flood of photos is refused
        for the price of a count (``submit`` looks again, and the store holds the per-user cap exactly)."""

        def check() -> None:
            if self.jobs.seen(key) is None:  # a redelivered update is answered by its first copy
                with counting_refusals(kind):
                    self.jobs.check_open()
                    self.jobs.check_quota(chat, kind)

        await self._call(check)

    def _quiet_refusal(self, chat: ChatRef, error: UserError) -> bool:
        """A quota refusal repeated within ``QUOTA_NOTICE_QUIET_S`` is not sent again: someone sending a
        thousand photos reads the sentence once, and the bot's replies to everyone else are not queued
        behind a thousand copies of it (Telegram paces a bot's messages as a whole)."""
        if not error.key.startswith("quota."):
            return False
        now, who = time.monotonic(), (chat.platform, chat.user_id)
        last = self._refused.get(who)
        if last is not None and now - last < QUOTA_NOTICE_QUIET_S:
            return True
        if len(self._refused) > 10_000:  # forget the oldest half; a forgotten user just reads it again
            for stale in sorted(self._refused, key=self._refused.__getitem__)[:5_000]:
                del self._refused[stale]
        self._refused[who] = now
        return False

    async def queued(self, submitted: Submitted, chat: ChatRef, key: str = "job.queued") -> Reply:
        if submitted.duplicate:  # the platform delivered this update before: the first copy answered
            return SILENT
        job = await self._call(self.jobs.job, submitted.job_id)
        return Reply(
            t(key, chat.lang, position=submitted.position),
            buttons=buttons.job_buttons(job),
            job_id=job.id,
            reply_to=job.reply_to_message_id,
        )

    def pending_minutes(self) -> int:
        return max(1, self.settings.studio.pending_command_ttl_s // 60)

    def _send_selfies(self, state: TrainingState, chat: ChatRef) -> Reply:
        train = self.settings.train
        text = t(
            "train.send_selfies", chat.lang, min=train.min_selfies, max=train.max_selfies, count=state.selfies
        )
        ready = state.selfies >= train.min_selfies
        return Reply(text, buttons=buttons.train_done_buttons(chat.user_id, chat.lang) if ready else ())

    # --- commands --------------------------------------------------------------------------------------
    async def _start(self, command: commands.Start) -> Reply:
        return Reply(t("start", command.chat.lang))

    async def _help(self, command: commands.Help) -> Reply:
        # Where a platform's way of attaching photos differs, the catalogue has its own help text.
        platform_help = f"help.{command.chat.platform}"
        text = t(platform_help if platform_help in MESSAGES["en"] else "help", command.chat.lang)
        unavailable = tuple(f"/{name} " for name in unavailable_commands(self.settings))
        return Reply("\n".join(line for line in text.split("\n") if not line.startswith(unavailable)))

    async def _admin(self, command: commands.Admin) -> Reply:
        return Reply(await self._call(self.admin.answer, command.chat, command.words))

    async def _privacy(self, command: commands.Privacy) -> Reply:
        return Reply(t("privacy", command.chat.lang, days=f"{self.settings.studio.keep_days:g}"))

    async def _unmask(self, command: commands.Unmask) -> Reply:
        chat = command.chat
        if command.photo is None:
            await self._call(self.jobs.expect_photo, chat, UNMASK)
            return Reply(t("unmask.send_photo", chat.lang, minutes=self.pending_minutes()))
        return await self._submit_unmask(chat, command.photo, command.key)

    async def _submit_unmask(self, chat: ChatRef, photo: Upload, key: str | None) -> Reply:
        await self.may_start(chat, "unmask", key)
        data = await self.fetch_own(chat, photo)
        submitted = await self._call(
            self.jobs.submit_unmask, chat, data, update_key=key, reply_to_message_id=photo.message_id
        )
        return await self.queued(submitted, chat)

    async def _suit(self, command: commands.Suit) -> Reply:
        chat = command.chat
        options = parse_suit_options(list(command.words))
        if command.photo is None:
            await self._call(self.jobs.expect_photo, chat, SUIT, options.as_params())
            return self._suit_prompt(options, chat)
        return await self._submit_suit(chat, command.photo, options, command.exemplar, command.key)

    async def _submit_suit(
        self, chat: ChatRef, photo: Upload, options: SuitOptions, exemplar: Upload | None, key: str | None
    ) -> Reply:
        await self.may_start(chat, "suit", key)
        data = await self.fetch_own(chat, photo)
        example = None if exemplar is None else await self.fetch(exemplar)
        submitted = await self._call(
            self.jobs.submit_suit,
            chat,
            data,
            options,
            exemplar_bytes=example,
            update_key=key,
            reply_to_message_id=photo.message_id,
        )
        return await self.queued(submitted, chat)

    async def _tryon(self, command: commands.TryOn) -> Reply:
        return await self.tryon.command(command)

    async def _sketch(self, command: commands.Sketch) -> Reply:
        return await self.sketch.command(command)

    def _suit_prompt(self, options: SuitOptions, chat: ChatRef, *, replace: bool = False) -> Reply:
        text = t(
            "suit.send_photo", chat.lang, minutes=self.pending_minutes(), summary=options.summary(chat.lang)
        )
        return Reply(text, buttons=buttons.suit_buttons(options, chat.user_id, chat.lang), replace=replace)

    async def _photo(self, command: commands.Photo) -> Reply:
        chat = command.chat
        if await self._call(self.identities.collecting_selfies, chat):
            await self._selfie(chat, command.photo, command.key)
            return SILENT  # one verdict per photo follows; an album would flood the chat with "received"
        pending = await self._call(self.jobs.take_expected, chat)
        if pending is not None and pending.command == UNMASK:
            return await self._submit_unmask(chat, command.photo, command.key)
        if pending is not None and pending.command == SUIT:
            options = SuitOptions.from_params(pending.params)
            return await self._submit_suit(chat, command.photo, options, None, command.key)
        if pending is not None and pending.command == TRYON:
            return await self.tryon.photo(chat, command.photo, command.key, pending)
        return (
            Reply(t("unmask.which_command", chat.lang)) if command.private else SILENT
        )  # groups share photos

    async def _selfie(self, chat: ChatRef, photo: Upload, key: str | None) -> str:
        data = await self.fetch_own(chat, photo)
        submitted = await self._call(
            self.identities.submit_selfie, chat, data, update_key=key, reply_to_message_id=photo.message_id
        )
        return submitted.job_id

    async def _train(self, command: commands.Train) -> Reply:
        chat = command.chat
        state = await self._call(self.identities.begin_training, chat)
        if not state.consented:  # nothing the user sent is stored before they agree
            return Reply(
                t("train.consent", chat.lang), buttons=buttons.consent_buttons(chat.user_id, chat.lang)
            )
        refused, checking = [], []
        for number, photo in enumerate(command.photos, start=1):
            key = None if command.key is None else f"{command.key}:{number}"
            try:
                checking.append(await self._selfie(chat, photo, key))
            except UserError as error:
                reason = error.render(chat.lang)
                refused.append(t("train.photo_refused", chat.lang, number=number, reason=reason))
        if not command.photos:
            return self._send_selfies(state, chat)
        lines = [t("train.checking", chat.lang, count=len(checking))] if checking else []
        return Reply("\n".join(lines + refused), error=not checking, answers=tuple(checking))

    async def _done(self, command: commands.Done) -> Reply:
        chat = command.chat
        submitted = await self._call(self.identities.start_training, chat, update_key=command.key)
        return await self.queued(submitted, chat, "train.queued")

    async def _status(self, command: commands.Status) -> Reply:
        chat = command.chat
        state = await self._call(self.identities.training_state, chat)
        jobs = await self._call(self.jobs.active_jobs, chat, STATUS_JOBS)
        positions = {job.id: await self._call(self.jobs.position, job.id) for job in jobs}
        return Reply(status_text(jobs, positions, state, self.settings.train, chat.lang))

    async def _cancel(self, command: commands.Cancel) -> Reply:
        lang = command.chat.lang
        cancelled = await self._call(self.jobs.cancel_active, command.chat)
        return Reply(t("cancel.done", lang, count=len(cancelled)) if cancelled else t("cancel.nothing", lang))

    async def _settings(self, command: commands.Settings) -> Reply:
        chat = command.chat
        prefs = await self._call(self.identities.preferences, chat)
        return Reply(
            settings_text(prefs, chat.lang),
            buttons=buttons.settings_buttons(prefs, chat.user_id, chat.lang),
        )

    async def _forget(self, command: commands.Forget) -> Reply:
        chat = command.chat
        return Reply(t("forget.confirm", chat.lang), buttons=buttons.forget_buttons(chat.user_id, chat.lang))

    async def _press(self, command: commands.Press) -> Reply:
        chat = command.chat
        button = buttons.OwnedButton.parse(command.data)
        if button is None or button.owner_id != chat.user_id:
            raise UserError("button.not_yours")
        press = _PRESSES.get(button.area)
        if press is None:
            raise UserError("button.not_yours")
        return await press(self, chat, button.choice, command.key)

    # --- buttons ---------------------------------------------------------------------------------------
    async def _press_suit(self, chat: ChatRef, choice: tuple[str, ...], key: str | None) -> Reply:
        change = buttons.suit_change(*choice) if len(choice) == 2 else {}
        params = await self._call(self.jobs.change_expected, chat, SUIT, change) if change else None
        if params is None:
            raise UserError("suit.expired")
        return self._suit_prompt(SuitOptions.from_params(params), chat, replace=True)

    async def _press_train(self, chat: ChatRef, choice: tuple[str, ...], key: str | None) -> Reply:
        if choice == ("agree",):
            state = await self._call(self.identities.accept_consent, chat)
            return dataclasses.replace(self._send_selfies(state, chat), replace=True)
        if choice == ("done",):
            return await self._done(commands.Done(chat=chat, key=key))
        return Reply(t("train.declined", chat.lang), replace=True)

    async def _press_settings(self, chat: ChatRef, choice: tuple[str, ...], key: str | None) -> Reply:
        if len(choice) != 2:
            raise UserError("button.not_yours")
        name, value = choice
        prefs = await self._call(self.identities.set_preference, chat, name, value == "on")
        return Reply(
            settings_text(prefs, chat.lang),
            buttons=buttons.settings_buttons(prefs, chat.user_id, chat.lang),
            replace=True,
        )

    async def _press_forget(self, chat: ChatRef, choice: tuple[str, ...], key: str | None) -> Reply:
        lang = chat.lang
        if choice != ("yes",):
            return Reply(t("forget.kept", lang), replace=True)
        report = await self._call(self.identities.forget, chat)
        text = t(
            "forget.done",
            lang,
            selfies=report.selfies,
            models=report.models,
            jobs=report.jobs,
            files=report.files,
            cancelled=report.cancelled,
        )
        return Reply(text, replace=True)

    async def _press_job(self, chat: ChatRef, choice: tuple[str, ...], key: str | None) -> Reply:
        if len(choice) != 2:
            raise UserError("button.not_yours")
        action, job_id = choice
        job: JobView = await self._call(self.jobs.own_job, chat, job_id)
        if action == "retry":
            return await self.queued(await self._call(self.jobs.retry, chat, job.id, update_key=key), chat)
        if not await self._call(self.jobs.cancel, job.id):
            raise UserError("job.already_finished")
        await self._call(self.jobs.discard_queued, [job.id])
        return Reply(t("job.cancelled", chat.lang), replace=True)


Handler = Callable[[FrontDesk, Any], Awaitable[Reply]]
PressHandler = Callable[[FrontDesk, ChatRef, tuple[str, ...], str | None], Awaitable[Reply]]

_HANDLERS: dict[type[Command], Handler] = {
    commands.Start: FrontDesk._start,
    commands.Help: FrontDesk._help,
    commands.Unmask: FrontDesk._unmask,
    commands.Suit: FrontDesk._suit,
    commands.TryOn: FrontDesk._tryon,
    commands.Sketch: FrontDesk._sketch,
    commands.Photo: FrontDesk._photo,
    commands.Train: FrontDesk._train,
    commands.Done: FrontDesk._done,
    commands.Status: FrontDesk._status,
    commands.Cancel: FrontDesk._cancel,
    commands.Settings: FrontDesk._settings,
    commands.Forget: FrontDesk._forget,
    commands.Privacy: FrontDesk._privacy,
    commands.Admin: FrontDesk._admin,
    commands.Press: FrontDesk._press,
}
_PRESSES: dict[str, PressHandler] = {
    "suit": FrontDesk._press_suit,
    "train": FrontDesk._press_train,
    "settings": FrontDesk._press_settings,
    "forget": FrontDesk._press_forget,
    "job": FrontDesk._press_job,
}
