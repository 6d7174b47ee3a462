"""Latency of the offline /suit pipeline per photo, total and per stage.

    python bench/bench_offline_suit.py [--megapixels MP] [--format passport-35x45] [--dpi 300]

Runs every photo in ../shared/data/faces/without_mask, each resized to about MP megapixels (aspect kept, so
photos are comparable), after one warm-up run. Photos the pipeline refuses (tilted heads, hair cut by the
frame) are counted and left out of the timings. Prints p50/p95 of the total and of each stage.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile  # noqa: E402
from core.config import ModelSettings  # noqa: E402
from core.errors import UserError  # noqa: E402
from core.imaging.idphoto.catalog import parse_suit_options  # noqa: E402
from core.imaging.pipelines.suit import STAGES, build_suit_pipeline  # noqa: E402

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "without_mask"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--format", default="passport-35x45")
    parser.add_argument("--dpi", default="300")
    args = parser.parse_args()
    options = parse_suit_options([args.format, args.dpi])

    photos = []
    for path in sorted(PHOTOS.glob("*.jpg")):
        image = Image.open(path).convert("RGB")
        scale = (args.megapixels * 1e6 / (image.width * image.height)) ** 0.5
        photos.append(image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS))

    started = time.perf_counter()
    pipeline = build_suit_pipeline(ModelSettings(tier="offline"))
    print(f"build: {time.perf_counter() - started:.2f} s")
    try:
        pipeline.run(photos[0], options=options)  # warm-up
    except UserError:
        pass

    totals: list[float] = []
    stages: dict[str, list[float]] = {key: [] for key in STAGES}
    refused: collections.Counter[str] = collections.Counter()
    for image in photos:
        started = time.perf_counter()
        try:
            result = pipeline.run(image, options=options)
        except UserError as error:
            refused[error.key] += 1
            continue
        totals.append(time.perf_counter() - started)
        for key, seconds in result.timings.items():
            stages[key].append(seconds)

    print(f"{len(photos)} photos at ~{args.megapixels} MP -> {options.format} at {options.dpi} dpi")
    print(f"made {len(totals)}, refused {dict(refused)}")
    print(f"{'stage':<11} {'p50 ms':>8} {'p95 ms':>8}")
    for key, values in stages.items():
        if values:
            print(f"{key:<11} {percentile(values, 50) * 1000:8.1f} {percentile(values, 95) * 1000:8.1f}")
    print(f"{'total':<11} {percentile(totals, 50) * 1000:8.1f} {percentile(totals, 95) * 1000:8.1f}")
    print("target: <= 1000 ms per photo on 2 CPU cores")


if __name__ == "__main__":
    main()
