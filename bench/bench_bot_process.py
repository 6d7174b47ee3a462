"""Start-up time and memory of the Telegram bot process.

    python bench/bench_bot_process.py [--runs N]

Starts the bot exactly as ``atelier bot telegram`` does (``run_bot`` in a fresh interpreter, configured by
``ATELIER_*`` variables) against the local fake Bot API and the tests' real Redis (``tests/services.py``; a
database claimed for the run), with a fresh SQLite database each run, so the schema migration is part of the
start. Measures the time from process start to its first getUpdates call (ready for updates) and its resident
memory once ready, then stops it with SIGTERM and checks that it never imported a model library.
Targets: ready <= 3 s, RSS <= 150 MB, no torch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.fake_bot_api import FakeBotAPI  # noqa: E402
from tests.e2e.stack import claimed_redis_db, stack_env, start_bot, stop  # noqa: E402

SETTLE_S = 1.0  # let the delivery loop connect and sweep once before reading memory


def one_run(work: Path, redis_url: str) -> tuple[float, float, str]:
    """(seconds until ready, RSS in MB once ready, the bot's report of heavy modules)."""
    with FakeBotAPI() as api:
        env = stack_env(api, work, redis_url, ATELIER_LOG_LEVEL="WARNING")
        started = time.monotonic()
        bot = start_bot(env, work / "bot.log")
        try:
            ready = api.wait_for_call("getUpdates", timeout=30) - started
            time.sleep(SETTLE_S)
            rss_mb = psutil.Process(bot.pid).memory_info().rss / 2**20
        finally:
            code = stop(bot)
        log = (work / "bot.log").read_text()
        if code != 0:
            raise RuntimeError(f"the bot exited with {code}:\n{log[-3000:]}")
        report = next((line for line in log.splitlines() if line.startswith("heavy modules:")), "no report")
        return ready, rss_mb, report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    results = []
    with claimed_redis_db() as redis_url:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                results.append(one_run(Path(tmp), redis_url))
    readies = [r[0] for r in results]
    rsses = [r[1] for r in results]
    reports = {r[2] for r in results}
    print(f"telegram bot process, {args.runs} cold starts (fresh database each)")
    print(
        f"  ready (process start -> first getUpdates): median {statistics.median(readies):.2f} s, "
        f"max {max(readies):.2f} s"
    )
    print(f"  RSS once ready: median {statistics.median(rsses):.0f} MB, max {max(rsses):.0f} MB")
    print(f"  {', '.join(sorted(reports))}")
    ok = max(readies) <= 3.0 and max(rsses) <= 150 and reports == {"heavy modules: []"}
    print("  targets ready <= 3 s, RSS <= 150 MB, no model library:", "met" if ok else "MISSED")
    return 0 if reports == {"heavy modules: []"} else 1


if __name__ == "__main__":
    sys.exit(main())
