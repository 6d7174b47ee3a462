"""Time per selfie of the /train checks (``dreambooth.selfies``) on the 40 bare photos of the shared set.

    python bench/bench_selfie_checks.py [--megapixels 1.0] [--runs 1]

Each photo is resized to about ``--megapixels`` (phone selfies are larger than the shared photos; the
checks work on a face-normalised copy, so the size costs only the decoding-side conversions) and checked
against no accepted selfies, which runs every step (detection and mesh, size, sharpness, mask, alignment,
hash, embedding). Prints a row per photo with its outcome, then p50/p95. The budget is 0.3 s per photo.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile  # noqa: E402
from core.config import TrainSettings  # noqa: E402
from core.errors import UserError  # noqa: E402
from dreambooth.selfies import build_selfie_checker  # noqa: E402

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "without_mask"


def at_megapixels(image: Image.Image, megapixels: float) -> Image.Image:
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=1, help="timed checks per photo (the fastest counts)")
    args = parser.parse_args()

    started = time.perf_counter()
    checker = build_selfie_checker(TrainSettings())
    print(f"checker built in {time.perf_counter() - started:.2f} s")
    photos = [
        (p.name, at_megapixels(Image.open(p).convert("RGB"), args.megapixels))
        for p in sorted(FACES.iterdir())
    ]
    checker.check(photos[0][1], [])  # warm-up: first calls into MediaPipe and dlib allocate

    times: list[float] = []
    print(f"{'photo':<12} {'size':>11} {'ms':>7}  outcome")
    for name, image in photos:
        best, outcome = float("inf"), ""
        for _ in range(args.runs):
            start = time.perf_counter()
            try:
                selfie = checker.check(image, [])
                outcome = f"accepted (face {selfie.face_px} px, sharpness {selfie.sharpness:.0f})"
            except UserError as error:
                outcome = f"{error.key} {error.params or ''}".rstrip()
            best = min(best, time.perf_counter() - start)
        times.append(best)
        print(f"{name:<12} {image.width:>5}x{image.height:<5} {best * 1000:7.0f}  {outcome}")
    print(
        f"\n{len(times)} photos at {args.megapixels:g} MP: "
        f"p50 {percentile(times, 50) * 1000:.0f} ms, p95 {percentile(times, 95) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
