"""Latency of ``core.imaging.intake.intake_image`` on generated phone-sized photos.

    python bench/bench_intake.py [--runs N]

Prints p50/p95 per case. The photos are smooth gradients with noise, so they compress like real ones.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import IntakeSettings  # noqa: E402
from core.imaging.intake import intake_image  # noqa: E402


def photo_jpeg(width: int, height: int, *, rotated: bool = False, tagged: bool = False) -> bytes:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, 0.5 + 0.25 * np.sin(x / 37.0) * np.cos(y / 53.0)], axis=-1)
    noisy = base * 255 + rng.normal(0, 6, size=base.shape)
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    exif = Image.Exif()
    if rotated:
        exif[ExifTags.Base.Orientation] = 6
    options: dict[str, object] = {"quality": 90, "exif": exif}
    if tagged:
        options["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def measure(data: bytes, runs: int) -> tuple[list[float], int]:
    limits = IntakeSettings()
    output = intake_image(data, limits).data  # warm-up: plugin imports, lcms initialisation
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        intake_image(data, limits)
        timings.append(time.perf_counter() - started)
    return timings, len(output)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cases = {
        "12 MP JPEG (4000x3000)": photo_jpeg(4000, 3000),
        "12 MP JPEG, EXIF-rotated, sRGB ICC": photo_jpeg(4000, 3000, rotated=True, tagged=True),
        "1 MP JPEG (1152x864)": photo_jpeg(1152, 864),
    }
    print(f"{'case':<38} {'input':>9} {'PNG out':>9} {'p50':>9} {'p95':>9} {'mean':>9}  ({args.runs} runs)")
    for name, data in cases.items():
        timings, output_bytes = measure(data, args.runs)
        print(
            f"{name:<38} {len(data) / 1e6:>7.1f}MB {output_bytes / 1e6:>7.1f}MB "
            f"{percentile(timings, 0.5) * 1000:>7.0f}ms "
            f"{percentile(timings, 0.95) * 1000:>7.0f}ms {statistics.fmean(timings) * 1000:>7.0f}ms"
        )


if __name__ == "__main__":
    main()
