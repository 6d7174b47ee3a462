"""What the identity LoRA learns from: the user's aligned face crops, each with a fresh inpainting mask.

The model being tuned is an *inpainting* UNet: it sees noisy latents, a mask and the masked image's latents
(like diffusers' ``dreambooth_inpaint`` example). So every sample carries a mask, drawn anew each time: mostly
the lower face (where a face mask sits and what /unmask regenerates, from the face-mesh landmarks when known,
else the lower middle of the aligned crop), sometimes a random box, sometimes the whole crop (so the token
also learns the whole face). Horizontal flips double the poses seen.

Every random choice comes from the ``numpy.random.Generator`` the caller passes: the training derives it from
``(seed, step)``, which is what makes a resumed training continue exactly where it stopped.

Prior preservation: class images ("a photo of a person") are generated once per base model with the base
pipeline itself and cached in the blob store (``core.identity.class_images_prefix``); every later training on
the same base reuses them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw

from core.identity import class_images_prefix
from core.imaging.backends.offline.face_regions import lower_face_polygon
from core.ports import BlobStore

if TYPE_CHECKING:
    import torch

CLASS_PROMPT = "a photo of a person"
# How often each mask kind is drawn: lower face, random box, whole crop.
MASK_KINDS = (0.6, 0.3, 0.1)


@dataclass(frozen=True)
class TrainBatch:
    pixel_values: torch.Tensor  # (B, 3, H, W) in [-1, 1]
    masks: torch.Tensor  # (B, 1, H, W), 1 = inpaint here
    masked_pixel_values: torch.Tensor  # pixel_values with the masked area set to 0 (mid-grey)


def tokenize(tokenizer: Any, caption: str) -> torch.Tensor:
    """``(1, model_max_length)`` token ids, padded like the inpainting pipeline pads its prompts."""
    ids: torch.Tensor = tokenizer(
        caption,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    return ids


class FaceCropDataset:
    """A map-style dataset of face crops at ``resolution`` with random inpainting masks and flips.

    ``landmarks[i]`` are the 478 face-mesh points of ``images[i]`` in its own pixels, or ``None``. Unlike a
    ``torch.utils.data.Dataset`` the randomness is an argument (see the module docstring).
    """

    def __init__(
        self,
        images: Sequence[Image.Image],
        landmarks: Sequence[np.ndarray | None],
        resolution: int,
        caption: str,
        tokenizer: Any,
        *,
        flip: bool = True,
    ) -> None:
        if not images:
            raise ValueError("no training images")
        if len(landmarks) != len(images):
            raise ValueError(f"{len(images)} images but {len(landmarks)} landmark sets")
        self.resolution = resolution
        self.caption = caption
        self.flip = flip
        self.input_ids = tokenize(tokenizer, caption)
        self._images: list[np.ndarray] = []
        self._landmarks: list[np.ndarray | None] = []
        for image, points in zip(images, landmarks, strict=True):
            scale = np.array([resolution / image.width, resolution / image.height], dtype=np.float32)
            image = image.convert("RGB")
            if image.size != (resolution, resolution):
                image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
            self._images.append(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)
            self._landmarks.append(None if points is None else np.asarray(points, np.float32)[:, :2] * scale)

    def __len__(self) -> int:
        return len(self._images)

    def batch(self, indices: Sequence[int], rng: np.random.Generator) -> TrainBatch:
        import torch

        pixels, masks = [], []
        for index in indices:
            image, points = self._images[index], self._landmarks[index]
            if self.flip and rng.random() < 0.5:
                image = image[:, ::-1]
                if points is not None:
                    points = points.copy()
                    points[:, 0] = self.resolution - 1 - points[:, 0]
            pixels.append(np.ascontiguousarray(image.transpose(2, 0, 1)))
            masks.append(random_mask(self.resolution, points, rng)[None])
        pixel_values = torch.from_numpy(np.stack(pixels))
        mask = torch.from_numpy(np.stack(masks))
        return TrainBatch(pixel_values, mask, pixel_values * (mask < 0.5))


def random_mask(side: int, landmarks: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """A ``(side, side)`` float32 mask (1 = inpaint) of one of the kinds in ``MASK_KINDS``."""
    kind = rng.choice(len(MASK_KINDS), p=MASK_KINDS)
    if kind == 0:
        return lower_face_mask(side, landmarks, rng)
    canvas = Image.new("L", (side, side), 0)
    if kind == 1:
        width, height = rng.uniform(0.2, 0.6, size=2) * side
        x0, y0 = rng.uniform(0, side - width), rng.uniform(0, side - height)
        ImageDraw.Draw(canvas).rectangle((x0, y0, x0 + width, y0 + height), fill=255)
    else:
        canvas.paste(255, (0, 0, side, side))
    return _binary(canvas)


def lower_face_mask(side: int, landmarks: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Where a face mask sits: from the face-mesh landmarks (jaw, pushed out by a random overhang, up to
    the nose bridge) when known; else an ellipse over the lower middle of the aligned crop."""
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    if landmarks is not None:
        polygon = lower_face_polygon(landmarks, overhang=float(rng.uniform(0.0, 0.15)))
        draw.polygon([(float(x), float(y)) for x, y in polygon], fill=255)
    else:
        # Aligned crops have the face centred: its lower half is about the middle third, below the eyes.
        left, right = rng.uniform(0.2, 0.3) * side, rng.uniform(0.7, 0.8) * side
        top, bottom = rng.uniform(0.45, 0.55) * side, rng.uniform(0.8, 0.95) * side
        draw.ellipse((left, top, right, bottom), fill=255)
    return _binary(canvas)


def _binary(canvas: Image.Image) -> np.ndarray:
    return (np.asarray(canvas) >= 128).astype(np.float32)


def class_images(
    pipe: Any,
    blobs: BlobStore,
    base_model: str,
    count: int,
    resolution: int,
    *,
    steps: int = 30,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Image.Image]:
    """``count`` prior-preservation images for ``base_model``: those cached in ``blobs``, plus the missing
    ones generated with ``pipe`` (its whole canvas masked, so the inpainting model paints from the prompt
    alone) and stored one by one, so an interrupted generation keeps what it made."""
    import torch

    prefix = class_images_prefix(base_model)
    images: list[Image.Image] = []
    for index in range(count):
        key = f"{prefix}{index:04d}-{resolution}.png"
        if blobs.exists(key):
            images.append(Image.open(io.BytesIO(blobs.get(key))).convert("RGB"))
        else:
            with torch.inference_mode():
                out = pipe(
                    prompt=CLASS_PROMPT,
                    image=Image.new("RGB", (resolution, resolution), (127, 127, 127)),
                    mask_image=Image.new("L", (resolution, resolution), 255),
                    height=resolution,
                    width=resolution,
                    num_inference_steps=steps,
                    strength=1.0,
                    generator=torch.Generator(device="cpu").manual_seed(seed + index),
                    output_type="pil",
                )
            image = out.images[0].convert("RGB")
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            blobs.put(key, buffer.getvalue())
            images.append(image)
        if progress is not None:
            progress(index + 1, count)
    return images
