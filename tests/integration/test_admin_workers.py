"""/admin's view of the fabric: the workers that answer Celery's ping and the queues in the job database (a
real worker process on a real Redis)."""

from __future__ import annotations

import asyncio

import pytest
from fabric_harness import Fabric, wait_until
from fabric_worker import FAST

from core.config import StudioSettings
from core.messages import t
from core.ports import ChatRef
from core.studio import commands
from core.studio.service import bootstrap

pytestmark = pytest.mark.integration
OPERATOR = ChatRef(platform="telegram", user_id="1", chat_id="1", lang="en")


@pytest.mark.timeout(90)
def test_status_names_the_living_workers_and_counts_the_queues(fabric: Fabric) -> None:
    settings = fabric.settings.model_copy(update={"studio": StudioSettings(operators=["telegram:1"])})
    studio = bootstrap(settings, queue=fabric.studio.queue)

    def status() -> str:
        return asyncio.run(studio.handle(commands.Admin(chat=OPERATOR))).text

    try:
        waiting = fabric.submit(FAST, 80)
        before = status()
        assert "Workers: 0" in before and "gpu: 1 queued, 0 running" in before
        fabric.start_worker(seconds=0.1)
        wait_until(lambda: fabric.job(waiting).state.value == "done", 60, "the job")
        after = status()
        assert after.startswith(f"Studio: {t('admin.state.open')}\nWorkers: atelier-")
        assert t("admin.no_queues") in after
    finally:
        studio.store.close()
