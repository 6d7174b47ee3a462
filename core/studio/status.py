"""The texts of /status and /settings: a member's jobs, their identity model and their preferences."""

from __future__ import annotations

from core.config import TrainSettings
from core.messages import t
from core.ports import JobState, JobView
from core.store import UserPrefs
from core.studio.training import TrainingState


def status_text(
    jobs: list[JobView], positions: dict[str, int], state: TrainingState, train: TrainSettings, lang: str
) -> str:
    lines = [_job_line(job, positions.get(job.id, 0), lang) for job in jobs]
    if not lines:
        lines.append(t("status.idle", lang))
    if state.model is not None:
        created = state.model.created_at.strftime("%Y-%m-%d") if state.model.created_at else "?"
        lines.append(t("status.model_ready", lang, selfies=state.model.selfies, date=created))
    elif state.collecting or state.selfies:
        lines.append(t("status.collecting", lang, count=state.selfies, min=train.min_selfies))
    else:
        lines.append(t("status.no_model", lang))
    return "\n".join(lines)


def _job_line(job: JobView, position: int, lang: str) -> str:
    what = t(f"status.kind.{job.kind}", lang)
    if job.state is JobState.QUEUED:
        return t("status.queued", lang, what=what, position=position)
    try:
        stage = t(f"stage.{job.stage}", lang) if job.stage else ""
    except KeyError:  # a stage the catalogue has no words for: its name
        stage = job.stage or ""
    return t("status.running", lang, what=what, stage=stage, percent=int(round(job.progress * 100)))


def settings_text(prefs: UserPrefs, lang: str) -> str:
    def word(value: bool) -> str:
        return t("settings.on" if value else "settings.off", lang)

    return t(
        "settings.text", lang, use_identity=word(prefs.use_identity), keep_selfies=word(prefs.keep_selfies)
    )
