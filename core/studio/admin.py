"""/admin: what the studio's operators (``StudioSettings.operators``) do from the chat.

Queues and workers at a glance, a user's last jobs, ban and unban, and the studio-wide pause. Every answer is
a sentence of the catalogue in the operator's language; everyone else is refused, and no menu lists the
command to them (the front ends register it apart from the command table).

A user is named by their id on the operator's own platform, or as ``platform:id`` for another platform.
The console's user is the person at the machine, an operator by definition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.errors import UserError
from core.messages import t
from core.ports import ChatRef
from core.store import PAUSED
from core.studio.jobdesk import JobDesk

log = logging.getLogger(__name__)
# /admin jobs lists this many of a user's newest jobs.
ADMIN_JOBS = 10


def operator_id(chat: ChatRef) -> str:
    return f"{chat.platform}:{chat.user_id}"


class AdminDesk:
    def __init__(self, jobs: JobDesk) -> None:
        self.jobs = jobs
        self.store = jobs.store

    def is_operator(self, chat: ChatRef) -> bool:
        return chat.platform == "console" or operator_id(chat) in self.jobs.settings.studio.operators

    def answer(self, chat: ChatRef, words: tuple[str, ...]) -> str:
        """The answer to ``/admin words...``; ``UserError`` for anyone but an operator, and for a user that
        is not named."""
        if not self.is_operator(chat):
            log.warning("/admin refused to %s", operator_id(chat))
            raise UserError("admin.refused")
        action, rest = (words[0].lower(), words[1:]) if words else ("status", ())
        actions: dict[str, Callable[[ChatRef, tuple[str, ...]], str]] = {
            "status": self._status,
            "jobs": self._user_jobs,
            "ban": self._ban,
            "unban": self._unban,
            "pause": self._pause,
            "resume": self._resume,
        }
        handler = actions.get(action)
        if handler is None:
            return t("admin.usage", chat.lang)
        return handler(chat, rest)

    # --- actions ------------------------------------------------------------------------------------------
    def _status(self, chat: ChatRef, _: tuple[str, ...]) -> str:
        lang = chat.lang
        depths = self.store.queue_depths()
        queues = "\n".join(
            t("admin.queue", lang, queue=d.queue, queued=d.queued, running=d.running) for d in depths
        )
        workers = self._workers()
        return t(
            "admin.status",
            lang,
            state=t("admin.state.paused" if self.store.switch(PAUSED) else "admin.state.open", lang),
            workers=t("admin.workers_unknown", lang) if workers is None else ", ".join(workers) or "0",
            queues=queues or t("admin.no_queues", lang),
        )

    def _workers(self) -> list[str] | None:
        """The names of the workers that answered a ping; None where the queue cannot say."""
        ping = getattr(self.jobs.queue, "workers", None)
        if ping is None:
            return None
        try:
            return sorted(ping())
        except Exception:  # the broker is away: say so rather than fail the whole answer
            log.exception("could not ping the workers")
            return None

    def _user_jobs(self, chat: ChatRef, rest: tuple[str, ...]) -> str:
        platform, user_id = self._user(chat, rest, "jobs")
        jobs = self.store.jobs_for_user(platform, user_id, active_only=False, limit=ADMIN_JOBS)
        user = f"{platform}:{user_id}"
        if not jobs:
            return t("admin.no_jobs", chat.lang, user=user)
        lines = "\n".join(
            t(
                "admin.job",
                chat.lang,
                created=f"{job.created_at:%Y-%m-%d %H:%M}" if job.created_at else "?",
                kind=job.kind,
                state=job.state.value,
                job_id=job.id[:8],
                error=f" ({job.error_key})" if job.error_key else "",
            )
            for job in jobs
        )
        return t("admin.jobs", chat.lang, user=user, lines=lines)

    def _ban(self, chat: ChatRef, rest: tuple[str, ...]) -> str:
        platform, user_id = self._user(chat, rest, "ban")
        user = f"{platform}:{user_id}"
        if user in self.jobs.settings.studio.operators:
            return t("admin.not_an_operator", chat.lang, user=user)
        reason = " ".join(rest[1:]) or None
        if not self.store.ban(platform, user_id, operator_id(chat), reason):
            return t("admin.already_banned", chat.lang, user=user)
        log.warning("%s banned %s (%s)", operator_id(chat), user, reason or "no reason given")
        return t("admin.banned", chat.lang, user=user)

    def _unban(self, chat: ChatRef, rest: tuple[str, ...]) -> str:
        platform, user_id = self._user(chat, rest, "unban")
        user = f"{platform}:{user_id}"
        if not self.store.unban(platform, user_id):
            return t("admin.not_banned", chat.lang, user=user)
        log.warning("%s unbanned %s", operator_id(chat), user)
        return t("admin.unbanned", chat.lang, user=user)

    def _pause(self, chat: ChatRef, _: tuple[str, ...]) -> str:
        self.store.set_switch(PAUSED, True, operator_id(chat))
        log.warning("%s paused the studio: new jobs are refused", operator_id(chat))
        return t("admin.paused", chat.lang)

    def _resume(self, chat: ChatRef, _: tuple[str, ...]) -> str:
        self.store.set_switch(PAUSED, False, operator_id(chat))
        log.warning("%s resumed the studio", operator_id(chat))
        return t("admin.resumed", chat.lang)

    @staticmethod
    def _user(chat: ChatRef, rest: tuple[str, ...], action: str) -> tuple[str, str]:
        if not rest:
            raise UserError("admin.no_user", action=action)
        platform, _, user_id = rest[0].rpartition(":")
        return (platform or chat.platform), user_id
