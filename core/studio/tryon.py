"""/tryon's two photos: the member's own photo and a picture of a top to put on them (anyone's: a shop photo).

Both may come with the command (Discord's two attachments, the console's two paths, a garment captioned
/tryon in reply to the member's photo). Otherwise the request is remembered (``JobDesk.expect_photo``) and
each photo that arrives takes the next empty place, the member first, then the garment; a photo waiting for
the other is held (``core.studio.held``) and the request records it. So a redelivered copy of a held photo's
update is not taken for the other photo, a refused second photo leaves the first waiting for a better one,
and the first photo of an album is not answered on its own (the other is in the same album, on its way).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

from core.errors import UserError
from core.imaging.intake_pool import CleanPhoto
from core.messages import t
from core.ports import ChatRef
from core.store import Pending
from core.studio.commands import SILENT, Reply, TryOn, Upload
from core.studio.held import HeldPhoto, held_clean, hold_photo, release, time_left_s
from core.studio.jobdesk import JobDesk, Submitted

TRYON = "/tryon"
# The photos a try-on takes, in the order a member sends them one at a time.
PLACES = ("photo", "garment")
_ASK_FOR = {"photo": "tryon.send_person", "garment": "tryon.send_garment"}


class Desk(Protocol):
    """What the try-on desk uses of the command desk (``core.studio.frontdesk.FrontDesk``)."""

    jobs: JobDesk

    async def fetch(self, upload: Upload) -> bytes: ...
    async def fetch_own(self, chat: ChatRef, upload: Upload) -> bytes: ...
    async def may_start(self, chat: ChatRef, kind: str, key: str | None) -> None: ...
    async def queued(self, submitted: Submitted, chat: ChatRef) -> Reply: ...
    def pending_minutes(self) -> int: ...


def held_photos(pending: Pending | None) -> dict[str, HeldPhoto]:
    """The photos a pending /tryon holds, by place; none for any other pending command."""
    if pending is None or pending.command != TRYON:
        return {}
    found = {name: HeldPhoto.from_params(pending.params.get(name)) for name in PLACES}
    return {name: photo for name, photo in found.items() if photo is not None}


def _copy_of(held: dict[str, HeldPhoto], key: str | None) -> bool:
    return key is not None and any(photo.update_key == key for photo in held.values())


class TryOnDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.jobs = desk.jobs

    async def command(self, command: TryOn) -> Reply:
        """/tryon with both photos (a job), one (held, the other asked for) or none (both asked for)."""
        chat, key = command.chat, command.key
        given = zip(PLACES, (command.photo, command.garment), strict=True)
        arrived = {name: upload for name, upload in given if upload is not None}
        if len(arrived) == len(PLACES):
            return await self._submit(chat, {}, arrived, key)
        earlier = held_photos(await asyncio.to_thread(self.jobs.expected, chat))
        if _copy_of(earlier, key):  # the platform delivered the update whose photo is held again
            return SILENT
        if arrived:
            ((place, upload),) = arrived.items()
            reply = await self._hold(chat, {}, place, upload, key)
        else:
            await asyncio.to_thread(self.jobs.expect_photo, chat, TRYON)
            reply = Reply(t("tryon.send_photos", chat.lang, minutes=self.desk.pending_minutes()))
        # This request replaced an earlier one: nobody will use what that one held.
        await asyncio.to_thread(release, self.jobs.blobs, list(earlier.values()))
        return reply

    async def photo(self, chat: ChatRef, upload: Upload, key: str | None, pending: Pending) -> Reply:
        """A photo for the member's pending /tryon (``pending``, which the caller took from the store)."""
        held = held_photos(pending)
        if _copy_of(held, key):
            await self._put_back(chat, pending)
            return SILENT
        missing = [name for name in PLACES if name not in held]
        try:
            if len(missing) > 1:
                return await self._hold(chat, held, missing[0], upload, key)
            return await self._submit(chat, held, {missing[0]: upload}, key)
        except UserError as error:
            if error.key != "tryon.expired":  # what is held waits for a photo we can use
                await self._put_back(chat, pending)
            raise

    async def _hold(
        self, chat: ChatRef, held: dict[str, HeldPhoto], place: str, upload: Upload, key: str | None
    ) -> Reply:
        await self.desk.may_start(chat, "tryon", key)  # the pause and the quotas, before a download
        data = await self._fetch(chat, place, upload)
        photo = await asyncio.to_thread(
            hold_photo,
            self.jobs.blobs,
            self.jobs.settings.intake,
            chat,
            data,
            self.jobs.settings.studio.pending_command_ttl_s,
            update_key=key,
            message_id=upload.message_id,
        )
        params = {name: each.as_params() for name, each in (held | {place: photo}).items()}
        await asyncio.to_thread(self.jobs.expect_photo, chat, TRYON, params)
        if upload.album is not None:
            return SILENT
        missing = next(name for name in PLACES if name not in held and name != place)
        return Reply(t(_ASK_FOR[missing], chat.lang, minutes=self.desk.pending_minutes()))

    async def _submit(
        self, chat: ChatRef, held: dict[str, HeldPhoto], arrived: dict[str, Upload], key: str | None
    ) -> Reply:
        await self.desk.may_start(chat, "tryon", key)
        images: dict[str, bytes | CleanPhoto] = {}
        for name, photo in held.items():
            clean = await asyncio.to_thread(held_clean, self.jobs.blobs, photo)
            if clean is None:
                raise UserError("tryon.expired")
            images[name] = clean
        for name, upload in arrived.items():
            images[name] = await self._fetch(chat, name, upload)
        answer = held["photo"].message_id if "photo" in held else arrived["photo"].message_id
        submitted = await asyncio.to_thread(
            self.jobs.submit_tryon,
            chat,
            images["photo"],
            images["garment"],
            update_key=key,
            reply_to_message_id=answer,
        )
        await asyncio.to_thread(release, self.jobs.blobs, list(held.values()))  # the job has its own copies
        return await self.desk.queued(submitted, chat)

    def _fetch(self, chat: ChatRef, place: str, upload: Upload) -> Awaitable[bytes]:
        """The member's photo must be their own (their face is processed); the garment may be anyone's."""
        return self.desk.fetch_own(chat, upload) if place == "photo" else self.desk.fetch(upload)

    async def _put_back(self, chat: ChatRef, pending: Pending) -> None:
        """The request as it was, for what is left of its photos' time: it must not outlive them."""
        default = float(self.jobs.settings.studio.pending_command_ttl_s)
        left = time_left_s(held_photos(pending).values(), default)
        if left > 0:
            await asyncio.to_thread(self.jobs.expect_photo, chat, pending.command, pending.params, ttl_s=left)
