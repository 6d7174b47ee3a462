"""The garment for /tryon with diffusion: SD 1.5 inpainting guided by IP-Adapter Plus (the garment photo as
an image prompt), on the inpainting model /unmask and /suit use.

- One UNet per worker: the SD inpainting pipeline is ``registry.shared("inpainter")``. The try-on runs in a
  view of it (the same UNet, VAE and text encoder, its own scheduler, plus the IP-Adapter's image encoder),
  with the adapter's layers installed only for the call and the shared inpainter's lock held, so /unmask
  and /suit in the same worker never see the adapter (see ``ip_adapter``).
- It paints a crop, not the photo: the edit mask's bounding box with some context around it, widened to the
  nearest of 2:3, 1:1 and 3:2 and painted at 512x768, 512x512 or 768x512 (SD 1.5 is trained near 512 px on
  the short side; a whole photo at 512 px would give the garment too few pixels, a 1024 px one repeats
  bodies). The painted crop is resized back and pasted into a copy of the photo; the pipeline composites
  only the masked part.
- The garment reaches the image encoder cut out onto white and centred on a white square: CLIP's processor
  centre-crops to a square, which would cut the collar or the hem off a tall garment, and the background of
  a shop photo is not part of the garment.
- ``request.fidelity`` is the adapter's scale: 0 paints from the prompt alone, 1 follows the garment hardest.
  ``request.body`` is not read: the mask already says where the garment goes.
- Seeded with a CPU ``torch.Generator`` like the SD inpainter. No identity adapter is used (a try-on changes
  clothes, not a face); one found loaded makes the job fail and is unloaded, as in /unmask.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from PIL import Image

from core.config import ModelSettings
from core.errors import UserError
from core.imaging.backends.base import Garment, StepProgress, TryOnRequest
from core.imaging.backends.standard.identity_lora import use_identity
from core.imaging.backends.standard.ip_adapter import IPAdapterLayers, load_ip_adapter_layers

if TYPE_CHECKING:
    from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter

Box4 = tuple[int, int, int, int]
# Crop shapes as height / width: landscape 3:2, square, portrait 2:3.
ASPECTS = (2 / 3, 1.0, 3 / 2)
# Context around the mask's bounding box, as a fraction of its longer side on each side.
CONTEXT = 0.1
WHITE = (255, 255, 255)


class DiffusionGarmentPainter:
    # The longer side of the working size; the shorter one is two thirds of it.
    resolution: ClassVar[int | None] = 768

    def __init__(self, inpainter: StableDiffusionInpainter, pipe: Any, adapter: IPAdapterLayers) -> None:
        """``pipe``: a view of ``inpainter.pipeline`` holding the image encoder (``garment_pipeline``);
        ``adapter``: the IP-Adapter's layers for its UNet, loaded but not installed."""
        self._inpainter = inpainter
        self._pipe = pipe
        self._adapter = adapter
        self._long_side = type(self).resolution or 768
        # Sides in multiples the UNet takes without padding: the VAE's factor times the UNet's downsampling.
        self._multiple = int(pipe.vae_scale_factor) * 2 ** (len(pipe.unet.config.block_out_channels) - 1)

    @classmethod
    def from_folder(cls, inpainter: StableDiffusionInpainter, root: Path, weight: str, encoder: str) -> Self:
        """Loads the IP-Adapter at ``root`` (laid out like ``h94/IP-Adapter``) beside ``inpainter``'s UNet."""
        with inpainter.lock:
            pipe = garment_pipeline(inpainter.pipeline)
            adapter = load_ip_adapter_layers(pipe, root, weight, encoder)
        return cls(inpainter, pipe, adapter)

    @property
    def pipeline(self) -> Any:
        """The try-on's view of the shared pipeline (read-only)."""
        return self._pipe

    @property
    def adapter(self) -> IPAdapterLayers:
        """The IP-Adapter's layers, installed in the UNet only while ``paint`` runs."""
        return self._adapter

    def crop(self, mask: Image.Image) -> tuple[Box4, tuple[int, int]] | None:
        """Where in the photo ``paint`` works for ``mask``, and at what size (``working_crop``)."""
        return working_crop(mask, self._long_side, self._multiple)

    def paint(self, request: TryOnRequest, progress: StepProgress) -> Image.Image:
        import torch

        person, mask = request.person.convert("RGB"), request.mask.convert("L")
        if person.size != mask.size:
            raise ValueError(f"person {person.size} and mask {mask.size} differ in size")
        crop = self.crop(mask)
        if crop is None:
            return person
        box, (width, height) = crop
        work_image = person.crop(box).resize((width, height), Image.Resampling.LANCZOS)
        work_mask = mask.crop(box).resize((width, height), Image.Resampling.NEAREST)

        def on_step_end(
            pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]
        ) -> dict[str, Any]:
            progress(min(1.0, (step + 1) / max(1, pipe.num_timesteps)))
            return callback_kwargs

        with (
            self._inpainter.lock,
            use_identity(self._pipe, None),
            self._adapter.installed(),
            torch.inference_mode(),
        ):
            self._pipe.set_ip_adapter_scale(request.fidelity)
            out = self._pipe(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                image=work_image,
                mask_image=work_mask,
                ip_adapter_image=garment_on_white(request.garment),
                height=height,
                width=width,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance_scale,
                strength=1.0,
                generator=torch.Generator(device="cpu").manual_seed(request.seed),
                callback_on_step_end=on_step_end,
                output_type="pil",
            )
        flagged = getattr(out, "nsfw_content_detected", None)
        if flagged and any(flagged):
            raise UserError("unmask.unsafe_result")
        painted: Image.Image = out.images[0]
        result = person.copy()
        result.paste(painted.resize((box[2] - box[0], box[3] - box[1]), Image.Resampling.LANCZOS), box[:2])
        return result


def working_crop(mask: Image.Image, long_side: int, multiple: int) -> tuple[Box4, tuple[int, int]] | None:
    """Where to paint and at what size: the mask's bounding box plus ``CONTEXT``, widened to the nearest of
    ``ASPECTS`` as far as the photo allows, and a working size with its longer side at ``long_side`` (its
    shorter one at most two thirds of that), in multiples of ``multiple``. ``None`` for an empty mask."""
    bbox = mask.getbbox()
    if bbox is None:
        return None
    x0, y0, x1, y1 = bbox
    margin = CONTEXT * max(x1 - x0, y1 - y0)
    width, height = x1 - x0 + 2 * margin, y1 - y0 + 2 * margin
    aspect = min(ASPECTS, key=lambda a: abs(math.log(height / width / a)))
    if height / width < aspect:
        height = width * aspect
    else:
        width = height / aspect
    image_width, image_height = mask.size
    width, height = min(width, image_width), min(height, image_height)
    left = min(max((x0 + x1 - width) / 2, 0.0), image_width - width)
    top = min(max((y0 + y1 - height) / 2, 0.0), image_height - height)
    box = (round(left), round(top), round(left + width), round(top + height))
    crop_width, crop_height = box[2] - box[0], box[3] - box[1]
    scale = min(long_side / max(crop_width, crop_height), long_side * 2 / 3 / min(crop_width, crop_height))

    def fit(side: int) -> int:
        return max(multiple, round(side * scale / multiple) * multiple)

    return box, (fit(crop_width), fit(crop_height))


def garment_on_white(garment: Garment) -> Image.Image:
    """The garment cut out onto white, centred on a white square (what the image encoder should see)."""
    if garment.image.size != garment.mask.size:
        raise ValueError(f"garment image {garment.image.size} and mask {garment.mask.size} differ in size")
    cut_out = Image.new("RGB", garment.image.size, WHITE)
    cut_out.paste(garment.image.convert("RGB"), mask=garment.mask.convert("L"))
    side = max(cut_out.size)
    square = Image.new("RGB", (side, side), WHITE)
    square.paste(cut_out, ((side - cut_out.width) // 2, (side - cut_out.height) // 2))
    return square


def garment_pipeline(shared: Any) -> Any:
    """A pipeline over ``shared``'s models with a scheduler of its own and room for an image encoder: the
    image encoder then never joins the pipeline /unmask and /suit call."""
    from diffusers import StableDiffusionInpaintPipeline

    components = dict(shared.components)
    components["scheduler"] = type(shared.scheduler).from_config(shared.scheduler.config)
    components["image_encoder"] = None
    pipe: Any = StableDiffusionInpaintPipeline(
        **components, requires_safety_checker=bool(shared.config.requires_safety_checker)
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_garment_painter(models: ModelSettings) -> DiffusionGarmentPainter:
    from core.imaging.backends import registry
    from core.imaging.backends.standard import ip_adapter

    return DiffusionGarmentPainter.from_folder(
        registry.shared("inpainter", models),
        ip_adapter.weights(models).materialize(),
        models.ip_adapter_weight,
        models.ip_adapter_encoder,
    )
