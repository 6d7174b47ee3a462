"""The MediaPipe graphs the offline backends run, built one way everywhere.

Only some of the models ship in the mediapipe wheel: pose must be the full model (``model_complexity=1``; the
lite and heavy ones are downloaded on first use, which fails offline), and every graph runs in
``static_image_mode`` (each photo is unrelated to the previous one, so nothing is tracked). The graphs keep
state between calls: their owners hold a lock around ``process``.
"""

from __future__ import annotations

from typing import Any


def pose_graph(*, segmentation: bool = False, min_confidence: float = 0.5) -> Any:
    """MediaPipe pose (33 landmarks), with the pose's own person mask when ``segmentation``."""
    import mediapipe as mp

    solutions: Any = mp.solutions
    return solutions.pose.Pose(
        static_image_mode=True,
        model_complexity=1,
        enable_segmentation=segmentation,
        min_detection_confidence=min_confidence,
    )


def selfie_segmentation_graph() -> Any:
    """Person-versus-background segmentation. ``model_selection=0`` is the square "general" model: it follows
    hair and shoulders better than the landscape one on portrait photos."""
    import mediapipe as mp

    solutions: Any = mp.solutions
    return solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
