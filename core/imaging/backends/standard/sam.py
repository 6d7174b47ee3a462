"""Face-mask outline with Segment Anything (transformers ``SamModel``), prompted by the detection.

Prompt: a box over the lower part of the face (nose to just under the chin, a little wider than the face),
plus positive points below the nose when the detector gave 5-point (YOLO-face) or 6-point (BlazeFace)
landmarks. SAM answers with three candidate masks; the one with the best predicted IoU wins.

SAM runs on a crop around the face, not the whole photo: the model always sees 1024 px, so cropping gives
the face more of those pixels, and pre/post-processing (resize, mask upsampling) stays small on a 12 MP photo.
The result is clipped to a margin around the prompt box, so a mask can never spill over the eyes or the room.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Box, Face
from core.imaging.backends.standard.weights import WeightsRef

if TYPE_CHECKING:
    from core.imaging.backends.torch_device import Placement

# Fractions of the face box height / width.
LOWER_FACE_TOP = 0.42  # about the nose bridge: masks start just below the eyes
LOWER_FACE_BOTTOM = 1.12  # masks often hang under the chin
LOWER_FACE_SIDE = 0.06
CROP_CONTEXT = 0.6  # context added around the face box on every side for SAM's crop
CLIP_MARGIN = 0.12  # how far the mask may reach outside the prompt box


class SamMaskSegmenter:
    def __init__(self, model: Any, processor: Any, placement: Placement) -> None:
        self._model = model.to(device=placement.device, dtype=placement.dtype).eval()
        self._processor = processor
        self._placement = placement

    def segment(self, image: Image.Image, face: Face) -> Image.Image:
        import torch

        # 1. Crop around the face and express the prompts in crop coordinates.
        crop_box = _expand(face.box, CROP_CONTEXT).clipped(image.width, image.height)
        x0, y0, x1, y1 = (round(v) for v in (crop_box.x0, crop_box.y0, crop_box.x1, crop_box.y1))
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise ValueError(f"face box {face.box} lies outside the {image.width}x{image.height} image")
        crop = image.convert("RGB").crop((x0, y0, x1, y1))
        prompt = lower_face_box(face.box).clipped(image.width, image.height)
        box = [prompt.x0 - x0, prompt.y0 - y0, prompt.x1 - x0, prompt.y1 - y0]
        points = [[px - x0, py - y0] for px, py in prompt_points(face)]

        # 2. Run SAM: three candidate masks with their predicted IoU.
        prompts: dict[str, Any] = {"input_boxes": [[box]]}
        if points:
            prompts |= {"input_points": [points], "input_labels": [[1] * len(points)]}
        inputs = self._processor(images=crop, return_tensors="pt", **prompts)
        tensors = {
            key: inputs[key].to(self._placement.device, self._placement.dtype)
            for key in ("pixel_values", "input_boxes", "input_points")
            if key in inputs
        }
        if "input_labels" in inputs:
            tensors["input_labels"] = inputs["input_labels"].to(self._placement.device)
        with torch.inference_mode():
            out = self._model(**tensors, multimask_output=True)
        masks = self._processor.image_processor.post_process_masks(
            out.pred_masks.float().cpu(), inputs["original_sizes"], inputs["reshaped_input_sizes"]
        )[0][0]  # (3, H, W) for the one prompt
        best = int(out.iou_scores[0, 0].float().argmax())
        chosen = masks[best].numpy().astype(bool)

        # 3. Keep it near the prompt and paste it into a mask of the full image.
        allowed = _expand(prompt, CLIP_MARGIN, relative_to=face.box).clipped(image.width, image.height)
        full = np.zeros((image.height, image.width), dtype=np.uint8)
        full[y0:y1, x0:x1][chosen] = 255
        keep = np.zeros_like(full)
        keep[round(allowed.y0) : round(allowed.y1), round(allowed.x0) : round(allowed.x1)] = 255
        return Image.fromarray(np.minimum(full, keep))  # 2-D uint8 -> mode L


def lower_face_box(face: Box) -> Box:
    return Box(
        face.x0 - LOWER_FACE_SIDE * face.width,
        face.y0 + LOWER_FACE_TOP * face.height,
        face.x1 + LOWER_FACE_SIDE * face.width,
        face.y0 + LOWER_FACE_BOTTOM * face.height,
    )


def prompt_points(face: Face) -> list[tuple[float, float]]:
    """Positive points on the mask: just below the nose tip and at the mouth, inside the face box.

    5 points (YOLO-face, RetinaFace order): eyes, nose, mouth corners. 6 points (BlazeFace): eyes, nose,
    mouth centre, ears. Other layouts carry no agreed index for the nose, so they add no points.
    """
    marks = face.landmarks
    if marks is None or len(marks) not in (5, 6):
        return []
    nose = marks[2]
    mouth = marks[3:5].mean(axis=0) if len(marks) == 5 else marks[3]
    below_nose = (float(nose[0]), float(nose[1]) + 0.08 * face.box.height)
    candidates = [below_nose, (float(mouth[0]), float(mouth[1]))]
    box = face.box
    return [(x, y) for x, y in candidates if box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1]


def _expand(box: Box, fraction: float, relative_to: Box | None = None) -> Box:
    ref = relative_to or box
    dx, dy = ref.width * fraction, ref.height * fraction
    return Box(box.x0 - dx, box.y0 - dy, box.x1 + dx, box.y1 + dy)


# --- weights and factory --------------------------------------------------------------------------------
def weights(models: ModelSettings) -> WeightsRef:
    return WeightsRef(
        models.segmenter,
        # The hub repo has preprocessor_config.json; transformers 5 saves processor_config.json.
        required=(
            ("config.json",),
            ("preprocessor_config.json", "processor_config.json"),
            ("model.safetensors", "pytorch_model.bin"),
        ),
        cache_dir=models.cache_dir,
    )


def build_segmenter(models: ModelSettings) -> SamMaskSegmenter:
    from transformers import SamModel, SamProcessor

    from core.imaging.backends.torch_device import resolve_placement

    path = weights(models).materialize()
    return SamMaskSegmenter(
        SamModel.from_pretrained(path), SamProcessor.from_pretrained(path), resolve_placement(models.device)
    )
