"""The offline /tryon pipeline on every person and garment of ../shared/data/tryon: latency per stage, how
well the new top covers the old one, how much the torso takes the garment's colours, and a contact sheet.

    python bench/bench_offline_tryon.py [--megapixels MP] [--sheet out/tryon/sheet.png] [--people N]
        [--split all|dev|held-out]

Every person (resized to about MP megapixels, aspect kept) wears every garment (resized likewise), and the
top of the next person in the list ("worn"). Each pair runs twice through the same pipeline: with the
offline painter (thin-plate splines and the person's shading) and with a baseline painter (one affine warp
from the shoulders and the hem, no shading), so both are measured on the same masks. Figures are reported
for the development pairs and for the held-out ones (a held-out person or garment) separately; see
``tests/pipeline/tryon_data.py`` for the split. The contact sheet shows person | garment | offline |
baseline for a spread of pairs.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile  # noqa: E402
from core.config import ModelSettings  # noqa: E402
from core.errors import UserError  # noqa: E402
from core.imaging.backends import registry  # noqa: E402
from core.imaging.backends.base import StepProgress, TryOnRequest  # noqa: E402
from core.imaging.backends.torso import TorsoFrame  # noqa: E402
from core.imaging.pipelines.tryon import STAGES, TryOnParams, TryOnPipeline, TryOnResult  # noqa: E402
from tests.pipeline import tryon_data as td  # noqa: E402

OFFLINE = ModelSettings(tier="offline")
SHEET_ROW = 256


class AffineGarmentPainter:
    """The baseline: the whole garment photo moved by one affine map (its shoulders onto the person's
    shoulders' tips, its hem's middle onto the middle of their hips), pasted inside the mask as it is."""

    resolution: ClassVar[int | None] = None

    def paint(self, request: TryOnRequest, progress: StepProgress) -> Image.Image:
        import cv2

        person = np.asarray(request.person.convert("RGB"))
        frame = TorsoFrame(request.body.points)
        tips = frame.shoulder_tips()
        g = request.garment.points
        source = np.float32(
            [g["shoulder_right"], g["shoulder_left"], np.add(g["hem_right"], g["hem_left"]) / 2]
        )
        target = np.float32([tips[0], tips[1], frame.hips_middle])
        matrix = cv2.getAffineTransform(source, target)
        size = (person.shape[1], person.shape[0])
        colour = cv2.warpAffine(np.asarray(request.garment.image.convert("RGB")), matrix, size)
        alpha = cv2.warpAffine(np.asarray(request.garment.mask.convert("L")), matrix, size) / 255.0
        alpha *= np.asarray(request.mask.convert("L")) / 255.0
        out = person * (1.0 - alpha[..., None]) + colour * alpha[..., None]
        progress(1.0)
        return Image.fromarray(np.clip(np.round(out), 0, 255).astype(np.uint8), "RGB")


@dataclass
class Measured:
    person: str
    garment: str
    held_out: bool
    iou: float
    before: float
    after: float
    seconds: float
    timings: dict[str, float]


def measure(pipeline: TryOnPipeline, photo: Image.Image, garment: Image.Image) -> tuple[TryOnResult, float]:
    started = time.perf_counter()
    result = pipeline.run(photo, garment)
    return result, time.perf_counter() - started


def figures(photo: Image.Image, result: TryOnResult) -> tuple[float, float, float]:
    """Torso IoU, and the colour distance torso-to-garment before and after."""
    original, out = np.asarray(photo), np.asarray(result.image)
    torso = np.asarray(result.body.torso) > 127
    garment_pixels = np.asarray(result.garment.image)[np.asarray(result.garment.mask) > 127]
    return (
        td.torso_iou(result, photo),
        td.colour_distance(original[torso], garment_pixels),
        td.colour_distance(out[torso], garment_pixels),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--sheet", type=Path, default=Path("out/tryon/sheet.png"))
    parser.add_argument("--people", type=int, default=len(td.PEOPLE), help="only the first N people")
    parser.add_argument("--split", choices=["all", "dev", "held-out"], default="all")
    parser.add_argument("--verbose", action="store_true", help="figures of every pair")
    args = parser.parse_args()

    started = time.perf_counter()
    offline = TryOnPipeline(
        registry.shared("body_parser", OFFLINE),
        registry.build("garment_extractor", OFFLINE),
        registry.build("garment_painter", OFFLINE),
        TryOnParams.from_models(OFFLINE),
    )
    baseline = TryOnPipeline(offline.parser, offline.extractor, AffineGarmentPainter(), offline.params)
    print(f"build: {time.perf_counter() - started:.2f} s")

    people = {name: td.person(name, args.megapixels) for name in td.PEOPLE[: args.people]}
    garments = {name: td.garment(name, args.megapixels) for name in td.GARMENTS}
    names = list(people)
    pairs = [(p, g, garments[g]) for p in names for g in garments]
    pairs += [
        (p, names[(i + 1) % len(names)], people[names[(i + 1) % len(names)]]) for i, p in enumerate(names)
    ]
    if args.split != "all":
        pairs = [pair for pair in pairs if td.held_out(pair[0], pair[1]) == (args.split == "held-out")]
    offline.run(people[names[0]], garments[td.GARMENTS[0]])  # warm-up

    results: dict[str, list[Measured]] = {"offline": [], "baseline": []}
    refused: collections.Counter[str] = collections.Counter()
    sheet_rows = []
    spread = set(range(0, len(pairs), max(1, len(pairs) // 14)))
    for index, (person_name, garment_name, garment) in enumerate(pairs):
        photo = people[person_name]
        row = [photo, garment]
        for method, pipeline in (("offline", offline), ("baseline", baseline)):
            try:
                result, seconds = measure(pipeline, photo, garment)
            except UserError as error:
                refused[f"{method}: {error.key}"] += 1
                break
            iou, before, after = figures(photo, result)
            if args.verbose:
                pair = f"{method:<9} {person_name:<14} {garment_name:<28}"
                print(f"{pair} IoU {iou:.3f} colour {before:.3f} -> {after:.3f}")
            results[method].append(
                Measured(
                    person_name,
                    garment_name,
                    td.held_out(person_name, garment_name),
                    iou,
                    before,
                    after,
                    seconds,
                    result.timings,
                )
            )
            row.append(result.image)
        if index in spread and len(row) == 4:
            sheet_rows.append(row)

    print(
        f"{len(pairs)} pairs at ~{args.megapixels} MP ({len(names)} people x {len(garments)} garments + worn)"
    )
    print(f"refused: {dict(refused)}")
    stages: dict[str, list[float]] = {key: [] for key in STAGES}
    for item in results["offline"]:
        for key, seconds in item.timings.items():
            stages[key].append(seconds)
    print(f"{'stage':<11} {'p50 ms':>8} {'p95 ms':>8}")
    for key, values in stages.items():
        print(f"{key:<11} {percentile(values, 50) * 1000:8.1f} {percentile(values, 95) * 1000:8.1f}")
    totals = [item.seconds for item in results["offline"]]
    print(f"{'total':<11} {percentile(totals, 50) * 1000:8.1f} {percentile(totals, 95) * 1000:8.1f}")
    print("target: <= 1000 ms per pair on 2 CPU cores")
    print()
    header = ("split", "method", "pairs", "IoU p50", "IoU>=.8", "before", "after", "after/before")
    print("{:<9} {:<9} {:>5} {:>8} {:>8} {:>7} {:>7} {:>12}".format(*header))
    for split, held in (("dev", False), ("held-out", True)):
        for method, items in results.items():
            chosen = [m for m in items if m.held_out == held]
            if not chosen:
                continue
            ious = [m.iou for m in chosen]
            ratio = [m.after / max(1e-6, m.before) for m in chosen]
            print(
                f"{split:<9} {method:<9} {len(chosen):>5} {np.median(ious):8.3f} "
                f"{np.mean(np.array(ious) >= 0.8):8.2f} {np.median([m.before for m in chosen]):7.3f} "
                f"{np.median([m.after for m in chosen]):7.3f} {np.median(ratio):12.3f}"
            )
    write_sheet(sheet_rows, args.sheet)
    print(f"contact sheet: {args.sheet} (person | garment | offline | baseline)")


def write_sheet(rows: list[list[Image.Image]], path: Path) -> None:
    tiles = []
    for row in rows:
        scaled = [im.resize((round(im.width * SHEET_ROW / im.height), SHEET_ROW)) for im in row]
        tiles.append(np.hstack([np.asarray(im) for im in scaled]))
    width = max(tile.shape[1] for tile in tiles)
    padded = [
        np.pad(tile, ((0, 4), (0, width - tile.shape[1]), (0, 0)), constant_values=255) for tile in tiles
    ]
    half = (len(padded) + 1) // 2
    left, right = np.vstack(padded[:half]), np.vstack(padded[half:])
    right = np.pad(right, ((0, left.shape[0] - right.shape[0]), (0, 0), (0, 0)), constant_values=255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.hstack([left, np.full((left.shape[0], 12, 3), 255, np.uint8), right])).save(path)


if __name__ == "__main__":
    main()
