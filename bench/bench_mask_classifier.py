"""Accuracy of the offline mask classifier on the labelled photos in ../shared/data/faces.

    python bench/bench_mask_classifier.py [--fit]

A photo from with_mask counts as correct when at least one of its faces is judged masked, one from
without_mask when none is (that is the decision the /unmask pipeline makes). Prints the accuracy of the
shipped weights and a leave-one-out estimate for a model refitted on these photos; ``--fit`` also prints the
refitted constants to paste into core/backends/offline/mask_classifier.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.backends.offline import mask_classifier as mc  # noqa: E402
from core.backends.offline.detector import MediaPipeFaceDetector  # noqa: E402

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, ...]:
    """L2-regularised logistic regression by Newton's method on standardised features."""
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-9
    z = np.hstack([(features - mean) / std, np.ones((len(features), 1))])
    w = np.zeros(z.shape[1])
    penalty = l2 * np.diag(np.r_[np.ones(len(w) - 1), 0.0])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        gradient = z.T @ (p - labels) + penalty @ w
        hessian = (z.T * (p * (1 - p))) @ z + penalty
        w -= np.linalg.solve(hessian, gradient)
    return mean, std, w[:-1], np.array(w[-1])


def predict(model: tuple[np.ndarray, ...], features: np.ndarray) -> np.ndarray:
    mean, std, weights, bias = model
    return 1.0 / (1.0 + np.exp(-(((features - mean) / std) @ weights + bias)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fit", action="store_true", help="print refitted constants")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()

    detector = MediaPipeFaceDetector()
    rows: list[tuple[str, bool, list[np.ndarray]]] = []
    undetected = {"with_mask": 0, "without_mask": 0}
    for label in ("with_mask", "without_mask"):
        for path in sorted((FACES / label).iterdir()):
            image = Image.open(path).convert("RGB")
            faces = [f for f in detector.detect(image) if f.landmarks is not None]
            vectors = [
                v.vector() for f in faces if (v := mc.lower_face_features(image, f.landmarks)) is not None
            ]
            if not vectors:
                undetected[label] += 1
                continue
            rows.append((path.name, label == "with_mask", vectors))

    def image_accuracy(probabilities: list[np.ndarray]) -> tuple[float, list[str]]:
        wrong = [
            name
            for (name, masked, _), p in zip(rows, probabilities, strict=True)
            if bool((p >= args.threshold).any()) != masked
        ]
        return 1 - len(wrong) / len(rows), wrong

    shipped = (mc.FEATURE_MEAN, mc.FEATURE_STD, mc.WEIGHTS, np.array(mc.BIAS))
    accuracy, wrong = image_accuracy([predict(shipped, np.array(v)) for _, _, v in rows])
    positives = sum(masked for _, masked, _ in rows)
    print(
        f"photos with a detected face: {positives} with_mask, {len(rows) - positives} without_mask; "
        f"no face found in {undetected['with_mask']} with_mask, {undetected['without_mask']} without_mask"
    )
    print(f"shipped weights: accuracy {accuracy:.3f}  wrong: {wrong}")
    tp = sum(1 for (n, m, _) in rows if m and n not in wrong)
    tn = sum(1 for (n, m, _) in rows if not m and n not in wrong)
    print(f"  with_mask recall {tp}/{positives}, without_mask specificity {tn}/{len(rows) - positives}")

    # Train on the largest face of each photo (the one a with_mask label is certain to be about).
    features = np.array([v[0] for _, _, v in rows])
    labels = np.array([float(m) for _, m, _ in rows])
    loo = []
    for i in range(len(rows)):
        keep = np.arange(len(rows)) != i
        loo.append(predict(fit_logistic(features[keep], labels[keep]), np.array(rows[i][2])))
    accuracy, wrong = image_accuracy(loo)
    print(f"leave-one-out (refit without the photo): accuracy {accuracy:.3f}  wrong: {wrong}")
    if args.fit:
        mean, std, weights, bias = fit_logistic(features, labels)
        fmt = lambda a: "np.array([" + ", ".join(f"{x:.2f}" for x in a) + "])"  # noqa: E731
        print(f"FEATURE_MEAN = {fmt(mean)}\nFEATURE_STD = {fmt(std)}")
        print(f"WEIGHTS = {fmt(weights)}\nBIAS = {float(bias):.2f}")


if __name__ == "__main__":
    main()
