"""The many-machine deployment files parse and agree with each other and with the code: no volume shared
between the bot and the workers, blobs in the bucket, Prometheus scraping each service's metrics port, and a
dashboard that asks only for metrics the studio exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

import core.metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
WORKERS = ("worker-gpu", "worker-train")


def compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    return services


def test_the_bot_and_the_workers_share_no_volume_and_keep_blobs_in_the_bucket() -> None:
    services = compose()
    bot_volumes = set(services["bot"].get("volumes", []))
    for name in ("bot", *WORKERS):
        environment = services[name]["environment"]
        assert environment["ATELIER_BLOBS__URL"].startswith("s3://")
        assert environment["ATELIER_BLOBS__ENDPOINT_URL"] == "http://minio:9000"
        assert services[name]["env_file"] == [".env"]  # AWS_* come from there
    for worker in WORKERS:
        assert not bot_volumes & set(services[worker].get("volumes", []))
    assert "minio" in services


def test_prometheus_scrapes_the_bot_web_port_and_each_worker_metrics_port() -> None:
    services = compose()
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"]
    targets = {target for job in scrape for group in job["static_configs"] for target in group["targets"]}
    assert "bot:8080" in targets
    for worker in WORKERS:
        command = services[worker]["command"]
        port = command[command.index("--metrics-port") + 1]
        assert f"{worker}:{port}" in targets
    assert services["prometheus"]["volumes"][0].startswith("./prometheus.yml:")


def test_the_dashboard_asks_only_for_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "atelier.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exported = {"atelier_queue_depth", "atelier_workers_alive", "up"}
    for metric in vars(core.metrics).values():
        name = getattr(metric, "_name", None)
        if isinstance(name, str):
            exported |= {name, f"{name}_total", f"{name}_bucket"}
    used = {name for expr in exprs for name in re.findall(r"\b(atelier_\w+|up)\{?", expr)}
    assert used <= exported, used - exported
    assert len(dashboard["panels"]) >= 8
