"""Scraping a real ``/metrics`` over HTTP and reading it with prometheus-client's own parser."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bots.web.app import build_web_app
from core.studio.service import Studio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def get_from_bot(studio: Studio, path: str, **app_options: Any) -> tuple[int, str]:
    """``GET path`` from the bot process's real web app, served on a free loopback port."""

    async def fetch() -> tuple[int, str]:
        runner = web.AppRunner(build_web_app(studio, **app_options))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                    return response.status, await response.text()
        finally:
            await runner.cleanup()

    return asyncio.run(fetch())


def scrape_bot(studio: Studio) -> Samples:
    status, text = get_from_bot(studio, "/metrics")
    assert status == 200, text
    return parse(text)
