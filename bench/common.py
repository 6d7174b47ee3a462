"""What the benchmark scripts share: percentiles and the GPU benchmarks' command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def gpu_arguments(description: str, photo: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu")
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument(
        "--side", type=int, default=None, help="photo's longest side (default 1024; small: 192)"
    )
    parser.add_argument("--photo", type=Path, default=photo)
    return parser
