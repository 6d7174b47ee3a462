"""Every button the studio shows, platform-neutral: what it says and the data it carries back.

Button data is ``<area>:<owner user id>:<choice>...``. The owner is the member the buttons were made for;
``OwnedButton.parse`` reads it back and the front desk refuses anyone else, so no platform adapter has to
remember who may press what. The choice itself (the pending /suit options, the job) lives in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.imaging.idphoto.catalog import SuitOptions, catalog
from core.kinds import KINDS
from core.messages import t
from core.ports import JobState, JobView
from core.store import UserPrefs
from core.studio.commands import MAX_BUTTON_DATA, Button, Buttons
from core.studio.training import PREFERENCES

CHOSEN = "● "


@dataclass(frozen=True)
class OwnedButton:
    area: str  # "suit", "train", "settings", "forget", "job"
    owner_id: str
    choice: tuple[str, ...]

    @property
    def data(self) -> str:
        data = ":".join((self.area, self.owner_id, *self.choice))
        if len(data.encode()) > MAX_BUTTON_DATA:
            raise ValueError(f"button data over {MAX_BUTTON_DATA} bytes: {data!r}")
        return data

    @classmethod
    def parse(cls, data: str) -> OwnedButton | None:
        parts = data.split(":")
        if len(parts) < 3 or not parts[0] or not parts[1]:
            return None
        return cls(parts[0], parts[1], tuple(parts[2:]))


def _button(label: str, area: str, owner_id: str, *choice: str, style: str = "secondary") -> Button:
    return Button(label, OwnedButton(area, owner_id, choice).data, style)  # type: ignore[arg-type]


def consent_buttons(owner_id: str, lang: str) -> Buttons:
    return (
        (
            _button(t("train.agree", lang), "train", owner_id, "agree", style="primary"),
            _button(t("train.decline", lang), "train", owner_id, "decline"),
        ),
    )


def train_done_buttons(owner_id: str, lang: str) -> Buttons:
    return ((_button(t("train.start_button", lang), "train", owner_id, "done", style="primary"),),)


def settings_buttons(prefs: UserPrefs, owner_id: str, lang: str) -> Buttons:
    rows = []
    for name in PREFERENCES:
        value = bool(getattr(prefs, name))
        label = f"{t(f'settings.{name}', lang)}: {t('settings.on' if value else 'settings.off', lang)}"
        rows.append((_button(label, "settings", owner_id, name, "off" if value else "on"),))
    return tuple(rows)


def forget_buttons(owner_id: str, lang: str) -> Buttons:
    return (
        (
            _button(t("forget.yes", lang), "forget", owner_id, "yes", style="danger"),
            _button(t("forget.no", lang), "forget", owner_id, "no"),
        ),
    )


def suit_buttons(options: SuitOptions, owner_id: str, lang: str) -> Buttons:
    """One row per option; the current choice is marked."""
    c = catalog()
    look = "women" if options.cut == "women" else ("tie" if options.tie else "no-tie")

    def choice(option: str, value: str, label: str, chosen: bool) -> Button:
        return _button((CHOSEN if chosen else "") + label, "suit", owner_id, option, value)

    rows: list[tuple[Button, ...]] = [
        tuple(choice("style", key, t(f"suit.style.{key}", lang), key == options.style) for key in c.styles),
        tuple(
            choice("look", key, t(label, lang), key == look)
            for key, label in (
                ("tie", "suit.tie.tie"),
                ("no-tie", "suit.tie.no-tie"),
                ("women", "suit.cut.women"),
            )
        ),
        tuple(
            choice("background", key, t(f"suit.background.{key}", lang), key == options.background)
            for key in c.backgrounds
        ),
    ]
    formats = [
        choice("format", key, t(f"suit.format.{key}", lang), key == options.format) for key in c.formats
    ]
    rows += [tuple(formats[i : i + 2]) for i in range(0, len(formats), 2)]
    return tuple(rows)


def suit_change(option: str, value: str) -> dict[str, object]:
    """The pending /suit options a button changes; ``{}`` for data no button of ours carries."""
    if option == "look":  # one row for the style-ish choices: tie / no tie / women's cut
        return {"tie": value == "tie", "cut": "women" if value == "women" else "classic"}
    c = catalog()
    choices: dict[str, set[str]] = {
        "style": set(c.styles),
        "background": set(c.backgrounds),
        "format": set(c.formats),
    }
    return {option: value} if value in choices.get(option, set()) else {}


def job_buttons(job: JobView) -> Buttons:
    """Cancel while a job waits or runs; "try again" (another seed) under a finished picture."""
    owner, lang = job.chat.user_id, job.chat.lang
    if job.state in (JobState.QUEUED, JobState.RUNNING):
        return ((_button(t("job.cancel_button", lang), "job", owner, "cancel", job.id, style="danger"),),)
    if job.state is JobState.DONE and KINDS[job.kind].retryable and job.result_key:
        return ((_button(t("job.retry_button", lang), "job", owner, "retry", job.id),),)
    return ()
