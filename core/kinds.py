"""Every kind of job, declared once: the Celery task, the worker, the studio and delivery all read this table.

A leaf module (standard library only), so the bot process, the worker and the tests can import it without
loading the chat side of core or a model library. What runs a job is named by import path and imported in
the worker only, where torch may load.

Adding a kind: one ``JobKind`` here, the function its ``runner`` names, and its strings in
``core/messages.py`` (``status.kind.<name>``, and the result caption for an image kind).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

# The Celery queues (one per kind of hardware a job needs); each has its own time limit in WorkerSettings.
QUEUES = ("gpu", "cpu", "train")


@dataclass(frozen=True)
class JobKind:
    name: str  # the task is "atelier.<name>"; status texts use "status.kind.<name>"
    queue: str  # one of QUEUES
    # "module:function" run in the worker. An image kind names a pipeline factory ``(Settings) -> JobRunner``
    # (built once per worker process); a notice kind names a task ``(WorkerContext, JobView, progress) ->
    # {"key", "params"}`` whose result is a sentence for the user.
    runner: str
    result: Literal["image", "notice"] = "image"
    # Named images a job takes beside the user's photo (stored under ``extra_input_key``).
    extra_inputs: tuple[str, ...] = ()
    # Images a job makes beside its main result (stored under ``extra_result_key``, delivered as documents).
    extra_results: tuple[str, ...] = ()
    # Whether a finished result gets "Try again" (the same inputs painted with another seed).
    retryable: bool = False
    # The chat command that starts it (None: started by the studio itself, e.g. a selfie check).
    command: str | None = None
    # The caption key of an image result (``core.messages``).
    caption: str = "result.caption"
    # Whether its answers are for the member alone (a private command's): never in a shared channel.
    private: bool = False
    # Whether the studio's quotas (``StudioSettings.max_*``) apply: kinds a user starts at will. Selfie
    # checks and trainings are bounded by the /train rules instead.
    quota: bool = True
    # Whether the studio's retention rule deletes its inputs and results (``StudioSettings.keep_days`` after
    # it ends; at once when it failed or was cancelled). Selfie checks and trainings follow /train's rules:
    # a selfie's photo becomes the training material the user agreed to keep until /forget.
    retention: bool = True

    def load_runner(self) -> Any:
        """The function ``runner`` names (imports its module: call in the worker only)."""
        module, _, function = self.runner.partition(":")
        return getattr(importlib.import_module(module), function)


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            "unmask",
            "gpu",
            "core.imaging.pipelines.unmask:build_job_runner",
            retryable=True,
            command="unmask",
        ),
        JobKind(
            "suit",
            "gpu",
            "core.imaging.pipelines.suit:build_job_runner",
            extra_inputs=("exemplar",),
            extra_results=("sheet",),
            retryable=True,
            command="suit",
            caption="suit.caption",
        ),
        JobKind(
            "tryon",
            "gpu",
            "core.imaging.pipelines.tryon:build_job_runner",
            extra_inputs=("garment",),
            retryable=True,
            command="tryon",
            caption="tryon.caption",
        ),
        JobKind(
            "sketch",
            "gpu",
            "core.imaging.pipelines.sketch:build_job_runner",
            retryable=True,
            command="sketch",
            caption="sketch.caption",
        ),
        JobKind(
            "selfie",
            "cpu",
            "jobs.identity_jobs:check_selfie",
            result="notice",
            private=True,
            quota=False,
            retention=False,
        ),
        JobKind(
            "train",
            "train",
            "jobs.identity_jobs:train_identity_job",
            result="notice",
            command="train",
            private=True,
            quota=False,
            retention=False,
        ),
    )
}


def kind(name: str) -> JobKind:
    """Raises ``KeyError`` for an unknown kind."""
    return KINDS[name]


def queue_of(name: str) -> str:
    return KINDS[name].queue
