"""Masked or not, per face: the detector's own answer when it has one, else an image classifier on the crop.

The classifier is any transformers image-classification checkpoint (the default is a Swin-T fine-tuned on
``WithMask``/``WithoutMask`` face crops). Which of its labels mean "masked" is decided once, at construction,
from ``id2label`` by the rule in ``mask_labels`` or by ``ModelSettings.masked_labels``; a model whose labels
give no masked class (or only masked classes) is refused then, not misread at run time.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Face
from core.imaging.backends.standard.mask_labels import masked_ids
from core.imaging.backends.standard.weights import WeightsRef

if TYPE_CHECKING:
    from core.imaging.backends.torch_device import Placement

# Face crops in mask datasets are loose (forehead to chin, some background): widen the detector box to match.
CROP_MARGIN = 0.15


class FaceMaskClassifier:
    def __init__(
        self,
        model: Any,
        processor: Any,
        placement: Placement,
        *,
        masked_labels: Collection[str] = (),
        crop_margin: float = CROP_MARGIN,
    ) -> None:
        self._model = model.to(device=placement.device, dtype=placement.dtype).eval()
        self._processor = processor
        self._placement = placement
        self.crop_margin = crop_margin
        id2label = {int(i): str(name) for i, name in model.config.id2label.items()}
        self.labels = id2label
        self.masked_label_ids = masked_ids(id2label, masked_labels)
        if not self.masked_label_ids or len(self.masked_label_ids) == len(id2label):
            raise ValueError(
                f"cannot tell masked from unmasked among the classifier labels {sorted(id2label.values())}; "
                "set models.masked_labels"
            )

    def mask_probabilities(self, image: Image.Image, faces: list[Face]) -> list[float]:
        probabilities: list[float | None] = [face.mask_score for face in faces]
        todo = [i for i, face in enumerate(faces) if face.mask_score is None]
        if todo:
            crops = [self._crop(image, faces[i]) for i in todo]
            for i, p in zip(todo, self._classify(crops), strict=True):
                probabilities[i] = p
        return [float(p) for p in probabilities if p is not None]

    def _crop(self, image: Image.Image, face: Face) -> Image.Image:
        box = face.box
        dx, dy = box.width * self.crop_margin, box.height * self.crop_margin
        x0, y0 = max(0, round(box.x0 - dx)), max(0, round(box.y0 - dy))
        x1, y1 = min(image.width, round(box.x1 + dx)), min(image.height, round(box.y1 + dy))
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise ValueError(f"face box {box} is empty inside a {image.width}x{image.height} image")
        return image.convert("RGB").crop((x0, y0, x1, y1))

    def _classify(self, crops: list[Image.Image]) -> list[float]:
        import torch

        inputs = self._processor(images=crops, return_tensors="pt")
        pixels = inputs["pixel_values"].to(device=self._placement.device, dtype=self._placement.dtype)
        with torch.inference_mode():
            logits = self._model(pixel_values=pixels).logits.float()
        # Single-label heads (softmax); the masked probability is the sum over every masked class.
        probs = logits.softmax(dim=-1)
        ids = torch.tensor(sorted(self.masked_label_ids), device=probs.device)
        return [float(p) for p in probs.index_select(-1, ids).sum(dim=-1).cpu()]


# --- weights and factory --------------------------------------------------------------------------------
def weights(models: ModelSettings) -> WeightsRef:
    return WeightsRef(
        models.mask_classifier,
        required=(
            ("config.json",),
            ("preprocessor_config.json",),
            ("model.safetensors", "pytorch_model.bin"),
        ),
        cache_dir=models.cache_dir,
    )


def build_mask_classifier(models: ModelSettings) -> FaceMaskClassifier:
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from core.imaging.backends.torch_device import resolve_placement

    path = weights(models).materialize()
    return FaceMaskClassifier(
        AutoModelForImageClassification.from_pretrained(path),
        AutoImageProcessor.from_pretrained(path),
        resolve_placement(models.device),
        masked_labels=models.masked_labels,
    )
