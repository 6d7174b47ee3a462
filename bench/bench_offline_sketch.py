"""/sketch on the offline tier with the face prior: latency per stage, where the face lands, how closely the
face follows the lines at a low and a high strength, and a contact sheet.

    python bench/bench_offline_sketch.py [--bank N] [--cache DIR] [--strength T]
        [--sheet out/sketch/sheet.png]

Drawings: every shared bare-face photo drawn by the edge extractor (``tests/pipeline/sketch_data.py``),
split into the development photos and the held-out ones (the /unmask split; nothing is tuned on those),
plus hand-like drawings on a canvas and as phone photos of paper. Making the bank is timed and reported
apart (it happens once per bank size and is cached). Per drawing: the whole run at the strength asked
(default 0.6), the offline detector on the result (a face? its box's IoU with the drawn face's), and the
edge agreement (HOG cosine of the result's lines and the drawing's, around the face) at strength 0 and 1.
The contact sheet shows drawing | result | reference face (the photo the drawing came from).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile  # noqa: E402
from core.config import ModelSettings  # noqa: E402
from core.errors import UserError  # noqa: E402
from core.imaging.backends.base import Box  # noqa: E402
from core.imaging.backends.offline.detector import MediaPipeFaceDetector  # noqa: E402
from core.imaging.pipelines.sketch import STAGES, SketchPipeline, build_sketch_pipeline  # noqa: E402
from tests.pipeline import sketch_data as sd  # noqa: E402

BUDGET_S = 3.0
SHEET_ROW = 256


@dataclass
class Case:
    name: str
    part: str  # "dev" | "held-out" | "hand"
    drawing: Image.Image
    truth: Box | None  # None: the sheet's frame is not the drawing's (a photo of paper)
    reference: Image.Image | None


@dataclass
class Outcome:
    case: Case
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    refused: str | None = None
    found: bool = False
    iou: float | None = None
    gain: float | None = None
    result: Image.Image | None = None


def cases() -> list[Case]:
    found: list[Case] = []
    held_out = {path.name for path in sd.face_photos("held-out")}
    for path in sd.face_photos():
        drawing, box, crop = sd.drawn_face(path)
        found.append(Case(path.name, "held-out" if path.name in held_out else "dev", drawing, box, crop))
    for seed in range(4):
        drawing, head = sd.hand_face(seed)
        found.append(Case(f"hand {seed}", "hand", drawing, head, None))
        found.append(Case(f"hand {seed} paper", "hand", sd.paper_photo(drawing, seed), None, None))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bank", type=int, default=ModelSettings().sketch_bank)
    parser.add_argument(
        "--cache", type=Path, default=None, help="bank cache root (default: the face prior's)"
    )
    parser.add_argument("--strength", type=float, default=0.6)
    parser.add_argument("--sheet", type=Path, default=Path("out/sketch/sheet.png"))
    args = parser.parse_args()

    models = ModelSettings(tier="offline", face_prior="stylegan", sketch_bank=args.bank, cache_dir=args.cache)
    began = time.perf_counter()
    pipeline = build_sketch_pipeline(models)
    bank = getattr(pipeline.painter, "bank", None)
    cached = bool(getattr(bank, "loaded_from_cache", False))
    print(
        f"bank of {args.bank} faces: {time.perf_counter() - began:.1f} s "
        f"({'read from the cache, networks loaded' if cached else 'made now and cached'})"
    )
    detector = MediaPipeFaceDetector()
    pipeline.run(sd.hand_face(0)[0], strength=args.strength)  # warm-up: first inference compiles kernels

    outcomes = [measure(pipeline, detector, case, args.strength) for case in cases()]
    report(outcomes)
    write_sheet(outcomes, args.sheet)


def measure(
    pipeline: SketchPipeline, detector: MediaPipeFaceDetector, case: Case, strength: float
) -> Outcome:
    outcome = Outcome(case)
    began = time.perf_counter()
    try:
        result = pipeline.run(case.drawing, strength=strength, seed=0)
    except UserError as refusal:
        outcome.refused = refusal.key
        return outcome
    outcome.seconds = time.perf_counter() - began
    outcome.timings = result.timings
    outcome.result = result.image
    faces = detector.detect(result.image)
    outcome.found = bool(faces)
    if faces and case.truth is not None:
        scale = result.image.width / case.drawing.width
        t = case.truth
        truth = Box(t.x0 * scale, t.y0 * scale, t.x1 * scale, t.y1 * scale)
        outcome.iou = sd.iou(max(faces, key=lambda f: f.box.width * f.box.height).box, truth)
    if case.truth is not None:
        low, high = (pipeline.run(case.drawing, strength=t, seed=0).image for t in (0.0, 1.0))
        outcome.gain = sd.edge_agreement(case.drawing, high, case.truth) - sd.edge_agreement(
            case.drawing, low, case.truth
        )
    return outcome


def report(outcomes: list[Outcome]) -> None:
    ran = [o for o in outcomes if o.refused is None]
    print(f"\nper stage over {len(ran)} drawings (seconds): p50 / p95")
    for stage in STAGES:
        values = [o.timings.get(stage, 0.0) for o in ran]
        print(f"  {stage:12s} {percentile(values, 50):.3f} / {percentile(values, 95):.3f}")
    totals = [o.seconds for o in ran]
    over = sum(t > BUDGET_S for t in totals)
    print(
        f"  {'total':12s} {percentile(totals, 50):.3f} / {percentile(totals, 95):.3f}"
        f"  (over {BUDGET_S} s: {over})"
    )
    print(
        "\npart       drawings  refused  face found  IoU>=0.5  median IoU  agreement gain T 0->1 (mean, >0)"
    )
    for part in ("dev", "held-out", "hand"):
        chosen = [o for o in outcomes if o.case.part == part]
        done = [o for o in chosen if o.refused is None]
        ious = [o.iou for o in done if o.iou is not None]
        gains = [o.gain for o in done if o.gain is not None]
        boxed = [o for o in done if o.case.truth is not None]
        print(
            f"{part:10s} {len(chosen):8d} {len(chosen) - len(done):8d} {sum(o.found for o in done):11d} "
            f"{sum(i >= 0.5 for i in ious):6d}/{len(boxed):<3d} "
            f"{statistics.median(ious) if ious else float('nan'):11.2f} "
            f"{statistics.mean(gains) if gains else float('nan'):+14.3f} "
            f"{sum(g > 0 for g in gains):3d}/{len(gains)}"
        )
    refused = [f"{o.case.name}: {o.refused}" for o in outcomes if o.refused]
    if refused:
        print("refused: " + ", ".join(refused))


def write_sheet(outcomes: list[Outcome], path: Path) -> None:
    """drawing | result | reference face, held-out rows first, then dev and hand drawings."""
    order = {"held-out": 0, "dev": 1, "hand": 2}
    rows = sorted(outcomes, key=lambda o: order[o.case.part])[:14]
    sheet = Image.new("RGB", (3 * SHEET_ROW, len(rows) * SHEET_ROW), "white")
    pen = ImageDraw.Draw(sheet)
    for i, outcome in enumerate(rows):
        tiles = [outcome.case.drawing, outcome.result, outcome.case.reference]
        for j, tile in enumerate(tiles):
            if tile is not None:
                copy = tile.convert("RGB")
                copy.thumbnail((SHEET_ROW, SHEET_ROW), Image.Resampling.LANCZOS)
                sheet.paste(copy, (j * SHEET_ROW, i * SHEET_ROW))
        label = f"{outcome.case.name} ({outcome.case.part})"
        label += f" refused: {outcome.refused}" if outcome.refused else f" IoU {outcome.iou or 0:.2f}"
        pen.text((4, i * SHEET_ROW + 4), label, fill=(220, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    print(f"\ncontact sheet: {path}")


if __name__ == "__main__":
    main()
