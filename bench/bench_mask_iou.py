"""How well the offline segmenter outlines a mask whose outline is known exactly.

    python bench/bench_mask_iou.py [--faces N] [--templates surgical,N95,...]

Each bare face of ../shared/data/faces/without_mask gets each template from ../shared/data/mask_templates
warped onto it (tests/pipeline/mask_templates.py); the offline detector, classifier and segmenter then run
on the masked photo as they would in the pipeline. Prints mean / 10th percentile / min IoU per template,
how often the classifier recognised the mask, and the worst cases.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.imaging.backends.offline.detector import MediaPipeFaceDetector  # noqa: E402
from core.imaging.backends.offline.mask_classifier import LandmarkMaskClassifier  # noqa: E402
from core.imaging.backends.offline.segmenter import LandmarkGrabCutSegmenter  # noqa: E402
from tests.pipeline.mask_templates import FRONT_TEMPLATES, iou, load_templates, put_on_mask  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=40)
    parser.add_argument("--templates", default=",".join((*FRONT_TEMPLATES, "gas")))
    args = parser.parse_args()

    templates = load_templates(DATA / "mask_templates")
    names = args.templates.split(",")
    detector, classifier, segmenter = (
        MediaPipeFaceDetector(),
        LandmarkMaskClassifier(),
        LandmarkGrabCutSegmenter(),
    )
    scores: dict[str, list[float]] = {name: [] for name in names}
    recognised: dict[str, int] = dict.fromkeys(names, 0)
    worst: list[tuple[float, str, str]] = []
    started = time.perf_counter()
    for path in sorted((DATA / "faces" / "without_mask").iterdir())[: args.faces]:
        bare = Image.open(path).convert("RGB")
        found = detector.detect(bare)
        if not found or found[0].landmarks is None:
            continue
        for name in names:
            masked = put_on_mask(bare, found[0].landmarks, templates[name])
            faces = detector.detect(masked.image)
            if not faces:
                scores[name].append(0.0)
                worst.append((0.0, path.name, name))
                continue
            recognised[name] += classifier.mask_probabilities(masked.image, faces[:1])[0] >= 0.5
            score = iou(np.asarray(segmenter.segment(masked.image, faces[0])) > 0, masked.truth)
            scores[name].append(score)
            worst.append((score, path.name, name))

    print(f"{'template':<16} {'n':>3} {'mean':>6} {'p10':>6} {'min':>6} {'recognised':>10}")
    for name, values in scores.items():
        v = np.array(values)
        print(
            f"{name:<16} {len(v):>3} {v.mean():6.3f} {np.percentile(v, 10):6.3f} {v.min():6.3f} "
            f"{recognised[name]:>6}/{len(v)}"
        )
    front = np.concatenate([scores[n] for n in names if n in FRONT_TEMPLATES] or [np.zeros(0)])
    if len(front):
        print(f"front templates: mean IoU {front.mean():.3f}, min {front.min():.3f} over {len(front)} faces")
    print("worst:", ", ".join(f"{f} x {t}: {s:.2f}" for s, f, t in sorted(worst)[:6]))
    print(f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
