"""Telegram commands for the personal identity model: /train (consent, then selfies, then /done), /cancel,
/settings and /forget.

Every state lives in the database through the studio (consent record, the open upload session, accepted
selfies), so a bot restart in the middle of an upload changes nothing for the user. Buttons carry their
owner's user id and answer nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from core.messages import t
from core.ports import ChatRef
from core.service import Studio
from core.store import UserPrefs
from core.training import PREFERENCES, TrainingState

Context = ContextTypes.DEFAULT_TYPE


@dataclass(frozen=True)
class OwnedButton:
    """``<area>:<owner user id>:<choice...>`` (Telegram allows 64 bytes of callback data)."""

    area: str
    owner_id: str
    choice: tuple[str, ...]

    @property
    def data(self) -> str:
        return ":".join((self.area, self.owner_id, *self.choice))

    @classmethod
    def parse(cls, data: str) -> OwnedButton | None:
        parts = data.split(":")
        if len(parts) < 3 or not parts[1]:
            return None
        return cls(parts[0], parts[1], tuple(parts[2:]))


def _keyboard(rows: list[list[tuple[str, OwnedButton]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=button.data) for label, button in row] for row in rows]
    )


def consent_keyboard(owner_id: str, lang: str) -> InlineKeyboardMarkup:
    return _keyboard(
        [
            [
                (t("train.agree", lang), OwnedButton("train", owner_id, ("agree",))),
                (t("train.decline", lang), OwnedButton("train", owner_id, ("decline",))),
            ]
        ]
    )


def settings_keyboard(prefs: UserPrefs, owner_id: str, lang: str) -> InlineKeyboardMarkup:
    rows = []
    for name in PREFERENCES:
        value = bool(getattr(prefs, name))
        label = f"{t(f'settings.{name}', lang)}: {t('settings.on' if value else 'settings.off', lang)}"
        rows.append([(label, OwnedButton("settings", owner_id, (name, "off" if value else "on")))])
    return _keyboard(rows)


def forget_keyboard(owner_id: str, lang: str) -> InlineKeyboardMarkup:
    return _keyboard(
        [
            [
                (t("forget.yes", lang), OwnedButton("forget", owner_id, ("yes",))),
                (t("forget.no", lang), OwnedButton("forget", owner_id, ("no",))),
            ]
        ]
    )


def settings_text(prefs: UserPrefs, lang: str) -> str:
    def word(value: bool) -> str:
        return t("settings.on" if value else "settings.off", lang)

    return t(
        "settings.text", lang, use_identity=word(prefs.use_identity), keep_selfies=word(prefs.keep_selfies)
    )


class IdentityHandlers:
    """Mixed into ``TelegramHandlers`` (which provides the studio, ``_chat``, ``_lang`` and ``_download``)."""

    studio: Studio

    if TYPE_CHECKING:

        def _chat(self, update: Update) -> ChatRef: ...
        def _lang(self, update: Update) -> str: ...
        async def _download(self, context: Context, source: Message) -> bytes: ...

    # --- /train ---------------------------------------------------------------------------------------------
    async def train_command(self, update: Update, context: Context) -> None:
        chat, lang = self._chat(update), self._lang(update)
        state = await asyncio.to_thread(self.studio.begin_training, chat)
        message = _message(update)
        if not state.consented:
            await message.reply_text(
                t("train.consent", lang), reply_markup=consent_keyboard(chat.user_id, lang)
            )
            return
        await message.reply_text(self._send_selfies_text(state, lang))

    async def train_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        button, chat, lang = OwnedButton.parse(query.data), self._chat(update), self._lang(update)
        if button is None or button.owner_id != chat.user_id:
            await query.answer(t("train.not_yours", lang))
            return
        await query.answer()
        if button.choice == ("agree",):
            state = await asyncio.to_thread(self.studio.accept_consent, chat)
            text = self._send_selfies_text(state, lang)
        else:
            text = t("train.declined", lang)
        with contextlib.suppress(BadRequest):  # the same button twice: "message is not modified"
            await query.edit_message_text(text)

    async def selfie(self, update: Update, context: Context) -> None:
        """A photo while the user's upload session is open: queue its checks; the verdict comes back as the
        job's result (no "queued" message per photo, an album would flood the chat)."""
        message = _message(update)
        data = await self._download(context, message)
        await asyncio.to_thread(
            functools.partial(
                self.studio.submit_selfie,
                self._chat(update),
                data,
                update_key=f"tg:{update.update_id}",
                reply_to_message_id=str(message.message_id),
            )
        )

    async def done_command(self, update: Update, context: Context) -> None:
        message, lang = _message(update), self._lang(update)
        submitted = await asyncio.to_thread(
            functools.partial(
                self.studio.start_training,
                self._chat(update),
                update_key=f"tg:{update.update_id}",
                reply_to_message_id=str(message.message_id),
            )
        )
        if submitted.duplicate:
            return
        status = await message.reply_text(t("train.queued", lang, position=submitted.position))
        await asyncio.to_thread(self.studio.set_status_message, submitted.job_id, str(status.message_id))

    # --- /cancel, /settings, /forget ----------------------------------------------------------------------
    async def cancel_command(self, update: Update, context: Context) -> None:
        cancelled = await asyncio.to_thread(self.studio.cancel_active, self._chat(update))
        lang = self._lang(update)
        text = t("cancel.done", lang, count=len(cancelled)) if cancelled else t("cancel.nothing", lang)
        await _message(update).reply_text(text)

    async def settings_command(self, update: Update, context: Context) -> None:
        chat, lang = self._chat(update), self._lang(update)
        prefs = await asyncio.to_thread(self.studio.preferences, chat)
        await _message(update).reply_text(
            settings_text(prefs, lang), reply_markup=settings_keyboard(prefs, chat.user_id, lang)
        )

    async def settings_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        button, chat, lang = OwnedButton.parse(query.data), self._chat(update), self._lang(update)
        if button is None or button.owner_id != chat.user_id or len(button.choice) != 2:
            await query.answer(t("train.not_yours", lang))
            return
        name, value = button.choice
        prefs = await asyncio.to_thread(self.studio.set_preference, chat, name, value == "on")
        await query.answer()
        with contextlib.suppress(BadRequest):
            await query.edit_message_text(
                settings_text(prefs, lang), reply_markup=settings_keyboard(prefs, chat.user_id, lang)
            )

    async def forget_command(self, update: Update, context: Context) -> None:
        chat, lang = self._chat(update), self._lang(update)
        await _message(update).reply_text(
            t("forget.confirm", lang), reply_markup=forget_keyboard(chat.user_id, lang)
        )

    async def forget_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        button, chat, lang = OwnedButton.parse(query.data), self._chat(update), self._lang(update)
        if button is None or button.owner_id != chat.user_id:
            await query.answer(t("train.not_yours", lang))
            return
        await query.answer()
        if button.choice != ("yes",):
            text = t("forget.kept", lang)
        else:
            report = await asyncio.to_thread(self.studio.forget, chat)
            text = t(
                "forget.done",
                lang,
                selfies=report.selfies,
                models=report.models,
                jobs=report.jobs,
                files=report.files,
                cancelled=report.cancelled,
            )
        with contextlib.suppress(BadRequest):
            await query.edit_message_text(text)

    def _send_selfies_text(self, state: TrainingState, lang: str) -> str:
        train = self.studio.settings.train
        return t(
            "train.send_selfies", lang, min=train.min_selfies, max=train.max_selfies, count=state.selfies
        )


def _message(update: Update) -> Message:
    assert update.effective_message is not None, "routed updates always carry a message"
    return update.effective_message
