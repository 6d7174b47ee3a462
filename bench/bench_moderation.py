"""The content check on ordinary photos: how close the shared test photos come to being withheld, and what a
check costs against the encode of the result the worker writes anyway.

    python bench/bench_moderation.py [--threshold T]

Every photo under ../shared/data (faces with and without masks, people and garments of the try-on set) is
checked as it is and under the changes a chat photo goes through: JPEG at quality 60 (as re-encoded by a
platform), half size, darker and brighter light, a slight blur. Prints, per watched label, the highest score
seen and on which photo, how many checks reach the threshold (false alarms: none of these photos shows
nudity), and the median time of one check (the image and its mirror at 320²) beside the median time of the
PNG encode of the same photo. There is no explicit image in the repository, so the detector's recall is not
measured here.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import ModerationSettings  # noqa: E402
from core.imaging.intake import encode_png  # noqa: E402
from core.imaging.moderation import ContentCheck  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def variants(image: Image.Image) -> dict[str, Image.Image]:
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=60)
    return {
        "as sent": image,
        "jpeg60": Image.open(io.BytesIO(jpeg.getvalue())).convert("RGB"),
        "half size": image.resize((image.width // 2, image.height // 2)),
        "dark": ImageEnhance.Brightness(image).enhance(0.6),
        "bright": ImageEnhance.Brightness(image).enhance(1.4),
        "blur": image.filter(ImageFilter.GaussianBlur(2)),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=ModerationSettings().threshold)
    args = parser.parse_args()
    settings = ModerationSettings(threshold=args.threshold)
    check = ContentCheck(settings)
    photos = sorted(p for p in SHARED.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    photos = [p for p in photos if "mask_templates" not in p.parts]
    best: dict[str, tuple[float, str]] = {label: (0.0, "") for label in settings.labels}
    alarms = checks = 0
    check_s: list[float] = []
    encode_s: list[float] = []
    for path in photos:
        image = Image.open(path).convert("RGB")
        started = time.perf_counter()
        encode_png(image)
        encode_s.append(time.perf_counter() - started)
        for name, variant in variants(image).items():
            started = time.perf_counter()
            scores = check.scores(variant)
            check_s.append(time.perf_counter() - started)
            checks += 1
            alarms += max(scores[label] for label in settings.labels) >= settings.threshold
            for label in settings.labels:
                if scores[label] > best[label][0]:
                    best[label] = (scores[label], f"{path.parent.name}/{path.name} ({name})")
    print(f"{len(photos)} photos x 6 variants = {checks} checks at threshold {settings.threshold}")
    print(f"false alarms: {alarms} of {checks}")
    for label, (score, where) in best.items():
        print(f"  {label:<26} highest {score:.3f}  {where}")
    check_ms, encode_ms = statistics.median(check_s) * 1e3, statistics.median(encode_s) * 1e3
    print(f"one check: median {check_ms:.1f} ms; PNG encode of the same photo: {encode_ms:.1f} ms")
    print(f"check / encode: {check_ms / encode_ms:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
