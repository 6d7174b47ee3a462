"""The offline mask classifier: fitted on the tuning photos only, judged on the held-out ones.

    python bench/bench_mask_classifier.py [--fit] [--variants N]

Faces come from ../shared/data/faces, split as in tests/pipeline/eval_set.py: the real masked and bare
photos, plus synthetic ones made from the bare faces (every mask template warped on, recoloured and
augmented; and the bare faces themselves through the same augmentations: scale, light, blur, Telegram's
JPEG). The logistic model is refitted on the tuning part (``--fit`` prints the constants for
core/imaging/backends/offline/mask_classifier.py) and scored on the held-out part, at the decision /unmask
makes: a face is unmasked unless it is bare with at least ``no_mask_certainty`` (see core/config.py). Prints
how many masked faces would be refused ("no mask") and how many bare faces would be unmasked, for the shipped
constants and for the refit, with a leave-one-photo-out estimate on the tuning photos.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import ModelSettings  # noqa: E402
from core.imaging.backends.offline import mask_classifier as mc  # noqa: E402
from core.imaging.backends.offline.detector import MediaPipeFaceDetector  # noqa: E402
from tests.pipeline import eval_set  # noqa: E402
from tests.pipeline.mask_templates import load_templates  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
# How much more a bare face counts than a masked one when the mouth model is fitted (chosen on the tuning
# photos' leave-one-out figures).
MOUTH_BARE_WEIGHT = 10.0


@dataclass
class Row:
    source: str  # the photo it comes from (leave-one-out groups by it)
    kind: str  # "real" or "synthetic"
    masked: bool
    vector: np.ndarray


def fit_logistic(
    features: np.ndarray, labels: np.ndarray, l2: float = 1.0, bare_weight: float = 1.0
) -> tuple[np.ndarray, ...]:
    """L2-regularised logistic regression by Newton's method on standardised features, the two classes
    weighted equally (there are many more masked faces than bare ones), bare faces ``bare_weight`` times
    more."""
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-9
    z = np.hstack([(features - mean) / std, np.ones((len(features), 1))])
    positives = max(1.0, float(labels.sum()))
    negatives = max(1.0, float(len(labels) - labels.sum()))
    weight = np.where(
        labels > 0.5, len(labels) / (2 * positives), bare_weight * len(labels) / (2 * negatives)
    )
    w = np.zeros(z.shape[1])
    penalty = l2 * np.diag(np.r_[np.ones(len(w) - 1), 0.0])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        gradient = z.T @ (weight * (p - labels)) + penalty @ w
        hessian = (z.T * (weight * p * (1 - p))) @ z + penalty
        w -= np.linalg.solve(hessian, gradient)
    return mean, std, w[:-1], np.array(w[-1])


Model = tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]


def predict_one(model: tuple[np.ndarray, ...], features: np.ndarray) -> np.ndarray:
    mean, std, weights, bias = model
    return 1.0 / (1.0 + np.exp(-(((features - mean) / std) @ weights + bias)))


def predict(model: Model, features: np.ndarray) -> np.ndarray:
    """As the classifier decides: the larger of the colour model's and the mouth model's probabilities."""
    colour, mouth = model
    split = mc.COLOUR_FEATURES
    return np.maximum(predict_one(colour, features[:, :split]), predict_one(mouth, features[:, split:]))


def fit(features: np.ndarray, labels: np.ndarray) -> Model:
    split = mc.COLOUR_FEATURES
    # The mouth model only has to catch what covers the mouth without looking like a mask (a hand): it is
    # fitted to be sure before it overrules a bare-looking face, as lips show less on some skin and in
    # small or blurred photos.
    mouth = fit_logistic(features[:, split:], labels, bare_weight=MOUTH_BARE_WEIGHT)
    return fit_logistic(features[:, :split], labels), mouth


def collect(part: str, variants: int, detector: MediaPipeFaceDetector) -> tuple[list[Row], int]:
    rows: list[Row] = []
    missed = 0

    def add(source: str, kind: str, masked: bool, image: Image.Image) -> None:
        nonlocal missed
        faces = detector.detect(image)
        features = mc.lower_face_features(image, faces[0].landmarks) if faces else None
        if features is None:
            missed += 1
            return
        rows.append(Row(source, kind, masked, features.vector()))

    for folder, held_out in (
        ("with_mask", eval_set.HELD_OUT_MASKED),
        ("without_mask", eval_set.HELD_OUT_BARE),
    ):
        names = sorted(p.name for p in (DATA / "faces" / folder).iterdir())
        for name in eval_set.split(names, held_out, part):
            add(
                name, "real", folder == "with_mask", Image.open(DATA / "faces" / folder / name).convert("RGB")
            )
    templates = load_templates(DATA / "mask_templates")
    textures = eval_set.load_textures(DATA / "mask_templates")
    bare = []
    for name in eval_set.split(
        sorted(p.name for p in (DATA / "faces" / "without_mask").iterdir()), eval_set.HELD_OUT_BARE, part
    ):
        image = Image.open(DATA / "faces" / "without_mask" / name).convert("RGB")
        faces = detector.detect(image)
        if faces and faces[0].landmarks is not None:
            bare.append((name, image, faces[0].landmarks))
    for case in eval_set.build_cases(bare, templates, textures, variants, seed=7):
        add(case.name.split("#")[0], "synthetic", True, case.image)
    for name, image, landmarks in bare:
        for k in range(6 * variants):
            variant = eval_set.draw_variant("bare", f"{name}#{k}", sorted(textures), seed=7)
            (augmented,), _, _ = eval_set.augment(
                [image], np.zeros(image.size[::-1], bool), landmarks, variant
            )
            add(name, "synthetic", False, augmented)
    return rows, missed


def report(label: str, rows: list[Row], probabilities: np.ndarray, threshold: float) -> None:
    for kind in ("real", "synthetic"):
        picked = [i for i, r in enumerate(rows) if r.kind == kind]
        masked = [i for i in picked if rows[i].masked]
        bare = [i for i in picked if not rows[i].masked]
        refused = [rows[i].source for i in masked if probabilities[i] < threshold]
        unmasked_bare = [rows[i].source for i in bare if probabilities[i] >= threshold]
        detail = f"  refused: {', '.join(refused)}" if kind == "real" and refused else ""
        print(
            f"  {label:<22} {kind:<9} masked refused {len(refused)}/{len(masked)}, "
            f"bare unmasked {len(unmasked_bare)}/{len(bare)}{detail}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fit", action="store_true", help="print refitted constants")
    parser.add_argument("--variants", type=int, default=1)
    args = parser.parse_args()

    threshold = 1.0 - ModelSettings().no_mask_certainty
    detector = MediaPipeFaceDetector()
    tuning, missed_tuning = collect("tuning", args.variants, detector)
    held_out, missed_held = collect("held-out", args.variants, detector)
    print(
        f"faces: {len(tuning)} tuning, {len(held_out)} held-out (no face or landmarks: "
        f"{missed_tuning} / {missed_held}); /unmask unmasks at P(mask) >= {threshold:.2f}"
    )
    shipped = tuple((m.mean, m.std, m.weights, np.array(m.bias)) for m in (mc.COLOUR_MODEL, mc.MOUTH_MODEL))
    x_tune = np.array([r.vector for r in tuning])
    y_tune = np.array([float(r.masked) for r in tuning])
    x_held = np.array([r.vector for r in held_out])
    refit = fit(x_tune, y_tune)
    for label, model in (("shipped", shipped), ("refit on tuning", refit)):
        print(f"{label}:")
        report("tuning", tuning, predict(model, x_tune), threshold)
        report("held-out", held_out, predict(model, x_held), threshold)
    # Leave one photo out (with every synthetic face made from it).
    sources = sorted({r.source for r in tuning})
    loo = np.zeros(len(tuning))
    for source in sources:
        out = np.array([r.source == source for r in tuning])
        loo[out] = predict(fit(x_tune[~out], y_tune[~out]), x_tune[out])
    print("leave one photo out, tuning:")
    report("tuning (LOO)", tuning, loo, threshold)
    # The threshold is chosen on these figures (never on the held-out ones).
    print("other thresholds, tuning leave-one-out:")
    for other in (0.1, 0.2, 0.3, 0.5):
        report(f"LOO at {other:.2f}", tuning, loo, other)
    if args.fit:
        fmt = lambda a: "np.array([" + ", ".join(f"{x:.2f}" for x in a) + "])"  # noqa: E731
        for name, (mean, std, weights, bias) in zip(("COLOUR_MODEL", "MOUTH_MODEL"), refit, strict=True):
            print(f"{name} = LogisticModel(\n    mean={fmt(mean)},\n    std={fmt(std)},")
            print(f"    weights={fmt(weights)},\n    bias={float(bias):.2f},\n)")


if __name__ == "__main__":
    main()
