"""Latency of the offline /unmask pipeline on one ~1-megapixel masked photo, total and per stage.

    python bench/bench_offline_unmask.py [PHOTO] [--runs N] [--megapixels MP] [--face-prior]

Without PHOTO it uses a masked portrait from ../shared/data/faces/with_mask. The photo is resized to about
MP megapixels (aspect kept) so results are comparable between photos. One warm-up run (model graphs, first
OpenCV calls), then N timed runs; prints p50/p95 of the total and of each stage. ``--face-prior`` runs the
same with the (non-commercial) face prior on; its bank is generated on first use and cached, outside the
timed runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile  # noqa: E402
from core.config import ModelSettings  # noqa: E402
from core.imaging.pipelines.unmask import STAGES, build_unmask_pipeline  # noqa: E402

DEFAULT_PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "with_mask" / "wm_020.jpg"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("photo", nargs="?", type=Path, default=DEFAULT_PHOTO)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--face-prior", action="store_true")
    args = parser.parse_args()

    image = Image.open(args.photo).convert("RGB")
    scale = (args.megapixels * 1e6 / (image.width * image.height)) ** 0.5
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)

    started = time.perf_counter()
    models = ModelSettings(tier="offline", face_prior="stylegan" if args.face_prior else "none")
    pipeline = build_unmask_pipeline(models)
    print(f"build: {time.perf_counter() - started:.2f} s")
    pipeline.run(image)  # warm-up

    totals: list[float] = []
    stages: dict[str, list[float]] = {key: [] for key in STAGES}
    for _ in range(args.runs):
        started = time.perf_counter()
        result = pipeline.run(image)
        totals.append(time.perf_counter() - started)
        for key, seconds in result.timings.items():
            stages[key].append(seconds)

    size = f"{image.width}x{image.height}"
    print(f"photo: {args.photo.name} at {size}, {len(result.faces)} face(s), {args.runs} runs")
    print(f"{'stage':<10} {'p50 ms':>8} {'p95 ms':>8}")
    for key, values in stages.items():
        if values:
            print(f"{key:<10} {percentile(values, 50) * 1000:8.1f} {percentile(values, 95) * 1000:8.1f}")
    print(f"{'total':<10} {percentile(totals, 50) * 1000:8.1f} {percentile(totals, 95) * 1000:8.1f}")
    target = 1500 if args.face_prior else 500
    print(f"mean total {statistics.fmean(totals) * 1000:.1f} ms (target: p50 <= {target} ms on 2 CPU cores)")


if __name__ == "__main__":
    main()
