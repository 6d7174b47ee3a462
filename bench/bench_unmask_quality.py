"""How well /unmask does on faces it was never tuned on, against OpenCV's Telea fill of the true mask.

    python bench/bench_unmask_quality.py [--part held-out|tuning|all] [--variants N] [--limit N]
        [--jobs N] [--face-prior] [--out DIR]

The cases come from ``tests/pipeline/eval_set.py``: every mask (own colours, black, white, navy, printed),
in the view (front, left, right) the face's turn calls for, on every held-out bare face, mirrored, scaled
(faces of 60-1000 px), re-lit, blurred and re-encoded as Telegram does; the truth is the template's
footprint and the bare photo. The pipeline runs as a user's job would (a refusal counts against it).
Prints:

- detection recall, mask-presence recall and the false-refusal rate on those cases; the same on the
  held-out real masked photos (as sent, and re-encoded by Telegram) and the "no mask" answer rate on the
  held-out bare photos;
- the mask segmentation's IoU (median, 10th percentile), and the edit mask's IoU and recall (every pixel
  that may differ, as ``atelier run unmask --mask-out`` writes it);
- PSNR / SSIM inside the true mask's box, for Atelier and for Telea on the true mask;
- dlib identity distance of each result to the bare face (lower = more like the person), with the masked
  photo itself for scale.

Writes ``sheet.png`` (input | Atelier | Telea | original for 16 cases), ``figures.png`` (the distributions)
and ``cases.json`` (every case's figures) under ``--out`` (default ``out/unmask-quality``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import ModelSettings  # noqa: E402
from core.errors import UserError  # noqa: E402
from tests.pipeline import eval_set  # noqa: E402
from tests.pipeline.mask_templates import iou, kind_of, load_templates, mask_kinds  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SHEET_CASES = 16
TILE = 200


@dataclass
class CaseFigures:
    name: str
    variant: str
    face_px: float
    refusal: str | None
    detected: bool
    mask_iou: float | None
    edit_iou: float | None
    edit_recall: float | None
    psnr: float | None
    ssim: float | None
    telea_psnr: float
    telea_ssim: float
    identity: float | None
    telea_identity: float
    masked_identity: float


_state: dict[str, Any] = {}


def _init(face_prior: bool) -> None:
    from core.imaging.backends.offline.face_embedding import build_face_embedder
    from core.imaging.pipelines.unmask import build_unmask_pipeline

    models = ModelSettings(tier="offline")
    if face_prior:
        models = models.model_copy(update={"face_prior": "stylegan"})
    _state["pipeline"] = build_unmask_pipeline(models)
    _state["embedder"] = build_face_embedder()


def telea(image: Image.Image, truth: np.ndarray, face_px: float) -> Image.Image:
    """The one-line classical baseline, given the true mask (grown by a pixel or two so the template's soft
    rim does not bleed into the fill)."""
    import cv2

    grow = max(1, round(0.01 * face_px))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    hole = cv2.dilate(truth.astype(np.uint8), kernel)
    return Image.fromarray(cv2.inpaint(np.asarray(image), hole, 3, cv2.INPAINT_TELEA), "RGB")


def box_scores(result: Image.Image, original: Image.Image, truth: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    ys, xs = np.nonzero(truth)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    a = np.asarray(result)[y0:y1, x0:x1]
    b = np.asarray(original)[y0:y1, x0:x1]
    psnr = float(peak_signal_noise_ratio(b, a, data_range=255))
    window = max(3, min(7, (min(a.shape[:2]) // 2) * 2 - 1))
    ssim = float(structural_similarity(b, a, channel_axis=2, data_range=255, win_size=window))
    return psnr, ssim


def evaluate(case: eval_set.EvalCase) -> tuple[CaseFigures, Image.Image | None, Image.Image]:
    pipeline, embedder = _state["pipeline"], _state["embedder"]
    from core.imaging.backends.offline.face_embedding import face_distance

    reference = embedder.embed(case.original, case.face)
    baseline = telea(case.image, case.truth, case.variant.face_px)
    telea_psnr, telea_ssim = box_scores(baseline, case.original, case.truth)
    figures = CaseFigures(
        name=case.name,
        variant=case.variant.label(),
        face_px=case.variant.face_px,
        refusal=None,
        detected=False,
        mask_iou=None,
        edit_iou=None,
        edit_recall=None,
        psnr=None,
        ssim=None,
        telea_psnr=telea_psnr,
        telea_ssim=telea_ssim,
        identity=None,
        telea_identity=face_distance(embedder.embed(baseline, case.face), reference),
        masked_identity=face_distance(embedder.embed(case.image, case.face), reference),
    )
    try:
        result = pipeline.run(case.image)
    except UserError as error:
        figures.refusal = error.key
        figures.detected = error.key not in {"unmask.no_face", "unmask.face_too_small"}
        return figures, None, baseline
    figures.detected = True
    edit = np.asarray(result.edit_mask) > 0
    figures.mask_iou = iou(np.asarray(result.mask) > 0, case.truth)
    figures.edit_iou = iou(edit, case.truth)
    figures.edit_recall = float((edit & case.truth).sum() / max(1, case.truth.sum()))
    figures.psnr, figures.ssim = box_scores(result.image, case.original, case.truth)
    figures.identity = face_distance(embedder.embed(result.image, case.face), reference)
    return figures, result.image, baseline


def _evaluate_indexed(item: tuple[int, eval_set.EvalCase]) -> tuple[int, CaseFigures, Any]:
    index, case = item
    figures, result, baseline = evaluate(case)
    tiles = None
    if index in _state.get("sheet", set()):
        tiles = [_tile(im, case.face) for im in (case.image, result, baseline, case.original)]
    return index, figures, tiles


def _tile(image: Image.Image | None, face: Any) -> Image.Image:
    if image is None:
        tile = Image.new("RGB", (TILE, TILE), (90, 20, 20))
        ImageDraw.Draw(tile).text((10, TILE // 2), "refused", fill="white")
        return tile
    box = face.box
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    half = 0.75 * max(box.width, box.height)
    return image.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half))).resize(
        (TILE, TILE), Image.Resampling.LANCZOS
    )


def _sheet_init(face_prior: bool, sheet: set[int]) -> None:
    _init(face_prior)
    _state["sheet"] = sheet


def real_photo_checks(pipeline: Any, part: str) -> None:
    """Refusals on the held-out real photos: masked ones should be unmasked, bare ones answered "no mask"."""
    for folder, held_out, wanted in (
        ("with_mask", eval_set.HELD_OUT_MASKED, None),
        ("without_mask", eval_set.HELD_OUT_BARE, "unmask.no_mask"),
    ):
        names = eval_set.split(sorted(p.name for p in (DATA / "faces" / folder).iterdir()), held_out, part)
        for telegram in (False, True):
            outcomes: dict[str, list[str]] = {}
            for name in names:
                image = Image.open(DATA / "faces" / folder / name).convert("RGB")
                if telegram:
                    image = eval_set.telegram_reencode(image)
                try:
                    pipeline.run(image)
                    outcome = "unmasked"
                except UserError as error:
                    outcome = error.key
                outcomes.setdefault(outcome, []).append(name)
            good = len(outcomes.get(wanted or "unmasked", []))
            how = "Telegram re-encode" if telegram else "as sent"
            detail = "; ".join(
                f"{k}: {', '.join(v)}" for k, v in outcomes.items() if k != (wanted or "unmasked")
            )
            print(
                f"  {folder} ({how}): {good}/{len(names)} {'answered no mask' if wanted else 'unmasked'}"
                + (f"  [{detail}]" if detail else "")
            )


def summarise(rows: list[CaseFigures]) -> None:
    def stats(values: list[float | None], lower: bool = False) -> str:
        v = np.array([x for x in values if x is not None], np.float64)
        if not len(v):
            return "n/a"
        tail = np.percentile(v, 90 if lower else 10)
        return f"median {np.median(v):.3f}, p{90 if lower else 10} {tail:.3f} (n={len(v)})"

    n = len(rows)
    detected = sum(r.detected for r in rows)
    refused = [r for r in rows if r.refusal]
    no_mask = sum(r.refusal == "unmask.no_mask" for r in rows)
    print(f"cases: {n}")
    print(f"detection recall       {detected / n:.3f}")
    print(f"mask-presence recall   {(detected - no_mask) / max(1, detected):.3f}")
    print(
        f"false-refusal rate     {len(refused) / n:.3f}  "
        + ", ".join(
            f"{k}: {sum(r.refusal == k for r in refused)}" for k in sorted({r.refusal or "" for r in refused})
        )
    )
    print(f"mask IoU               {stats([r.mask_iou for r in rows])}")
    print(f"edit-mask IoU          {stats([r.edit_iou for r in rows])}")
    print(f"edit-mask recall       {stats([r.edit_recall for r in rows])}")
    done = [r for r in rows if r.psnr is not None]
    print(
        f"PSNR in the mask box   Atelier {np.median([r.psnr for r in done]):.2f} dB, "
        f"Telea {np.median([r.telea_psnr for r in done]):.2f} dB (medians over the {len(done)} unmasked)"
    )
    print(
        f"SSIM in the mask box   Atelier {np.median([r.ssim for r in done]):.3f}, "
        f"Telea {np.median([r.telea_ssim for r in done]):.3f}"
    )
    print(
        f"identity distance      Atelier {np.median([r.identity for r in done]):.3f}, "
        f"Telea {np.median([r.telea_identity for r in done]):.3f}, "
        f"masked photo {np.median([r.masked_identity for r in done]):.3f} (medians; lower = more alike)"
    )
    by_template: dict[str, list[CaseFigures]] = {}
    for r in rows:
        by_template.setdefault(r.variant.split()[0], []).append(r)
    print(f"{'template':<22}{'n':>3}{'refused':>8}{'IoU':>7}{'edit':>7}{'recall':>7}{'PSNR':>7}{'Telea':>7}")
    for name, group in sorted(by_template.items()):
        ok = [r for r in group if r.mask_iou is not None]

        def med(key: str, ok: list[CaseFigures] = ok) -> float:
            return float(np.median([getattr(r, key) for r in ok])) if ok else float("nan")

        print(
            f"{name:<22}{len(group):>3}{sum(bool(r.refusal) for r in group):>8}{med('mask_iou'):7.3f}"
            f"{med('edit_iou'):7.3f}{med('edit_recall'):7.3f}{med('psnr'):7.2f}{med('telea_psnr'):7.2f}"
        )


def plot(rows: list[CaseFigures], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r.psnr is not None]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    axes[0].boxplot([[r.mask_iou for r in done], [r.edit_iou for r in done], [r.edit_recall for r in done]])
    axes[0].set_xticks([1, 2, 3], ["mask IoU", "edit IoU", "edit recall"])
    axes[0].set_title("segmentation vs the true mask")
    for ax, key, title in ((axes[1], "psnr", "PSNR in the mask box (dB)"), (axes[2], "ssim", "SSIM")):
        ax.boxplot([[getattr(r, key) for r in done], [getattr(r, f"telea_{key}") for r in done]])
        ax.set_xticks([1, 2], ["Atelier", "Telea (true mask)"])
        ax.set_title(title)
    axes[3].boxplot(
        [[r.identity for r in done], [r.telea_identity for r in done], [r.masked_identity for r in done]]
    )
    axes[3].set_xticks([1, 2, 3], ["Atelier", "Telea", "masked"])
    axes[3].set_title("identity distance to the real face")
    fig.suptitle(f"/unmask on {len(rows)} held-out cases ({len(rows) - len(done)} refused)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def public_sheet(path: Path, face_prior: bool) -> None:
    """The contact sheet on public-domain portraits only (the astronaut Eileen Collins from scikit-image,
    Grace Hopper from matplotlib): unlike the shared photos, these may be published, so the README shows
    this one."""
    from pathlib import Path as _Path

    import matplotlib
    import skimage.data

    from tests.pipeline.mask_templates import put_on_mask, view_for_face

    _init(face_prior)
    pipeline = _state["pipeline"]
    portraits = [
        Image.fromarray(skimage.data.astronaut()),
        Image.open(_Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB"),
    ]
    templates = load_templates(DATA / "mask_templates")
    textures = eval_set.load_textures(DATA / "mask_templates")
    looks = [
        ("surgical", "as-is"), ("KN95", "black"), ("cloth", "pattern:floral_3.jpg"), ("N95", "navy"),
        ("surgical_green", "as-is"), ("cloth", "white"), ("KN95", "pattern:check_4.jpg"),
        ("gas", "as-is"),
    ]  # fmt: skip
    rows = []
    for portrait in portraits:
        landmarks = pipeline.detector.detect(portrait)[0].landmarks
        face = eval_set.face_from_landmarks(landmarks)
        for kind, colour in looks:
            view = view_for_face(templates, kind, landmarks)
            masked = put_on_mask(portrait, landmarks, eval_set.recoloured(view, colour, textures))
            try:
                result: Image.Image | None = pipeline.run(masked.image).image
            except UserError:
                result = None
            baseline = telea(masked.image, masked.truth, float(np.ptp(landmarks[:, 0])))
            rows.append([_tile(im, face) for im in (masked.image, result, baseline, portrait)])
    sheet = Image.new("RGB", (8 * TILE, 20 + (len(rows) + 1) // 2 * TILE), "white")
    draw = ImageDraw.Draw(sheet)
    for half in range(2):
        for column, text in enumerate(["input", "Atelier", "Telea (true mask)", "original"]):
            draw.text((half * 4 * TILE + column * TILE + 6, 4), text, fill="black")
    for index, row in enumerate(rows):
        x, y = (index % 2) * 4 * TILE, 20 + (index // 2) * TILE
        for column, tile in enumerate(row):
            sheet.paste(tile, (x + column * TILE, y))
    sheet.save(path, quality=85)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["held-out", "tuning", "all"], default="held-out")
    parser.add_argument("--variants", type=int, default=6, help="random variants per face x mask")
    parser.add_argument("--limit", type=int, default=0, help="evaluate only every k-th case to reach N")
    parser.add_argument("--templates", default="", help="comma-separated subset of masks (e.g. gas,N95)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--face-prior", action="store_true", help="with the (non-commercial) face prior")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "unmask-quality")
    parser.add_argument(
        "--public-sheet",
        type=Path,
        help="only write the sheet of public-domain portraits (docs/) to this file",
    )
    args = parser.parse_args()
    if args.public_sheet:
        public_sheet(args.public_sheet, args.face_prior)
        return

    from core.imaging.backends.offline.detector import MediaPipeFaceDetector

    started = time.perf_counter()
    templates = load_templates(DATA / "mask_templates")
    if args.templates:
        templates = {k: v for k, v in templates.items() if kind_of(k) in args.templates.split(",")}
    textures = eval_set.load_textures(DATA / "mask_templates")
    detector = MediaPipeFaceDetector()
    names = sorted(p.name for p in (DATA / "faces" / "without_mask").iterdir())
    bare = []
    for name in eval_set.split(names, eval_set.HELD_OUT_BARE, args.part):
        image = Image.open(DATA / "faces" / "without_mask" / name).convert("RGB")
        faces = detector.detect(image)
        if faces and faces[0].landmarks is not None:
            bare.append((name, image, faces[0].landmarks))
    cases = list(eval_set.build_cases(bare, templates, textures, args.variants, args.seed, args.limit))
    sheet = set(np.linspace(0, len(cases) - 1, SHEET_CASES).round().astype(int).tolist())
    print(
        f"{len(cases)} cases from {len(bare)} {args.part} faces x {len(mask_kinds(templates))} masks "
        f"({time.perf_counter() - started:.1f} s to build)"
    )

    rows: list[CaseFigures | None] = [None] * len(cases)
    tiles: dict[int, list[Image.Image]] = {}
    # Spawned, not forked: the MediaPipe graphs built above must not be shared with the children.
    with multiprocessing.get_context("spawn").Pool(
        args.jobs, initializer=_sheet_init, initargs=(args.face_prior, sheet)
    ) as pool:
        for index, figures, case_tiles in pool.imap_unordered(_evaluate_indexed, enumerate(cases)):
            rows[index] = figures
            if case_tiles is not None:
                tiles[index] = case_tiles
    done_rows = [r for r in rows if r is not None]
    print(f"evaluated in {time.perf_counter() - started:.1f} s")
    summarise(done_rows)

    _init(args.face_prior)
    print("real photos:")
    real_photo_checks(_state["pipeline"], args.part)

    args.out.mkdir(parents=True, exist_ok=True)
    header = ["input", "Atelier", "Telea (true mask)", "original"]
    sheet_image = Image.new("RGB", (4 * TILE, 24 + len(tiles) * (TILE + 14)), "white")
    draw = ImageDraw.Draw(sheet_image)
    for column, text in enumerate(header):
        draw.text((column * TILE + 6, 6), text, fill="black")
    y = 24
    for index in sorted(tiles):
        draw.text((6, y), f"{cases[index].name} {cases[index].variant.label()}", fill="black")
        for column, tile in enumerate(tiles[index]):
            sheet_image.paste(tile, (column * TILE, y + 14))
        y += TILE + 14
    sheet_image.save(args.out / "sheet.png")
    plot(done_rows, args.out / "figures.png")
    (args.out / "cases.json").write_text(json.dumps([asdict(r) for r in done_rows], indent=1))
    print(f"wrote {args.out / 'sheet.png'}, {args.out / 'figures.png'}, {args.out / 'cases.json'}")


if __name__ == "__main__":
    main()
