"""The Discord deployment as separate processes, for end-to-end tests: the real bot (``run_discord_bot``)
configured only through ``ATELIER_*`` variables, talking to the local fake Discord API and gateway; the
worker and Redis are the Telegram stack's (``tests.e2e.stack``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e.fake_discord_api import FakeDiscordAPI
from tests.e2e.stack import HEAVY_MODULES, REPO_ROOT, start

# The bot, as the CLI would start it; on exit it reports which heavy libraries it had imported.
BOT_CODE = f"""
import asyncio, sys
from core.config import Settings
from core.logs import configure_logging
from bots.discord.app import run_discord_bot
settings = Settings()
configure_logging(settings.log_level)
asyncio.run(run_discord_bot(settings))
print("heavy modules:", sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules), flush=True)
"""


def discord_env(api: FakeDiscordAPI, work_dir: Path, redis_url: str, guild_id: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        ATELIER_DATA_DIR=str(work_dir / "data"),
        ATELIER_DATABASE_URL=f"sqlite:///{work_dir / 'atelier.db'}",
        ATELIER_REDIS_URL=redis_url,
        ATELIER_DISCORD__TOKEN=api.token,
        ATELIER_DISCORD__API_URL=api.api_url,
        ATELIER_DISCORD__GUILD_IDS=json.dumps([guild_id]),
        ATELIER_MODELS__TIER="offline",
        ATELIER_LOG_LEVEL="INFO",
    )
    return env


def start_discord_bot(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    return start(BOT_CODE, env, log_path)
