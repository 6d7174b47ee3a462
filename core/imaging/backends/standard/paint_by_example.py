"""Exemplar-guided inpainting with diffusers' Paint-by-Example pipeline (``Fantasy-Studio/Paint-by-Example``).

- The masked area is repainted to look like the example image (a photo of a suit), with no text prompt: the
  UNet is conditioned on a CLIP image embedding of the example.
- fp16 on CUDA, fp32 on the CPU. The hub repo publishes fp32 weights only, as pickles on its main branch
  (safetensors exist on an unmerged pull request only); either format is accepted and loaded at the
  placement's dtype.
- Loaded component by component: the repo's ``model_index.json`` names the image encoder's library as
  ``paint_by_example``, a module that newer diffusers keep under ``pipelines.deprecated``, where
  ``DiffusionPipeline.from_pretrained`` no longer finds it.
- Seeded with a CPU ``torch.Generator`` like the SD inpainter; no safety checker (the repo ships none).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import InpaintRequest, StepProgress
from core.imaging.backends.standard.sd_inpaint import fit_to_multiple
from core.imaging.backends.standard.weights import WeightsRef, first_existing

if TYPE_CHECKING:
    from core.imaging.backends.torch_device import Placement


class PaintByExampleInpainter:
    def __init__(self, pipe: Any, placement: Placement) -> None:
        self._pipe = pipe.to(placement.device)
        self._pipe.set_progress_bar_config(disable=True)
        self._placement = placement
        # The pipeline wants sides in multiples of 8 whatever its VAE's scale factor.
        self._multiple = max(8, int(pipe.vae_scale_factor))

    def inpaint(
        self,
        image: Image.Image,
        mask: Image.Image,
        exemplar: Image.Image,
        request: InpaintRequest,
        progress: StepProgress,
    ) -> Image.Image:
        """Repaints ``mask`` (255 = paint) after ``exemplar``; ``request.prompt`` is not used."""
        import torch

        work_image, work_mask = fit_to_multiple(image, mask, self._multiple)
        width, height = work_image.size
        steps_done = 0

        # The pipeline calls back once per denoising step; with PNDM its step indices start at 1.
        def on_step(step: int, timestep: Any, latents: Any) -> None:
            nonlocal steps_done
            steps_done += 1
            progress(min(1.0, steps_done / max(1, request.steps)))

        with torch.inference_mode():
            out = self._pipe(
                example_image=exemplar.convert("RGB"),
                image=work_image,
                mask_image=work_mask,
                height=height,
                width=width,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance_scale,
                generator=torch.Generator(device="cpu").manual_seed(request.seed),
                callback=on_step,
                output_type="pil",
            )
        result: Image.Image = out.images[0]
        return result if result.size == image.size else result.resize(image.size, Image.Resampling.LANCZOS)


# --- weights and factory --------------------------------------------------------------------------------
_UNET = ("unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.bin")
_VAE = ("vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.bin")
_ENCODER = ("image_encoder/model.safetensors", "image_encoder/pytorch_model.bin")
# The schedulers the pipeline supports; the hub repo's is PNDM.
_SCHEDULERS = ("PNDMScheduler", "DDIMScheduler", "LMSDiscreteScheduler")


def weights(models: ModelSettings) -> WeightsRef:
    # Not the repo's top-level model.ckpt / model.safetensors: the original checkpoint, 5-12 GB, unused.
    return WeightsRef(
        models.exemplar_inpainter,
        required=(
            ("unet/config.json",),
            _UNET,
            ("vae/config.json",),
            _VAE,
            ("image_encoder/config.json",),
            _ENCODER,
            ("scheduler/scheduler_config.json",),
            ("feature_extractor/preprocessor_config.json",),
        ),
        extras=("model_index.json",),
        cache_dir=models.cache_dir,
    )


def load_pipeline(path: Path, dtype: Any) -> Any:
    """A ``PaintByExamplePipeline`` from a folder laid out like the hub repo, weights at ``dtype``."""
    import diffusers
    from diffusers import AutoencoderKL, PaintByExamplePipeline, PNDMScheduler, UNet2DConditionModel
    from diffusers.pipelines.deprecated.paint_by_example import PaintByExampleImageEncoder
    from transformers import CLIPImageProcessor

    def safetensors(names: tuple[str, ...]) -> bool:
        # Said explicitly: left unset, diffusers logs an error before falling back to the pickle.
        return first_existing(path, names[0]) is not None

    scheduler_config = PNDMScheduler.load_config(path, subfolder="scheduler")
    scheduler_name = scheduler_config.get("_class_name")
    scheduler_class = getattr(diffusers, scheduler_name) if scheduler_name in _SCHEDULERS else PNDMScheduler
    return PaintByExamplePipeline(
        vae=AutoencoderKL.from_pretrained(
            path, subfolder="vae", dtype=dtype, use_safetensors=safetensors(_VAE)
        ),
        image_encoder=PaintByExampleImageEncoder.from_pretrained(
            path, subfolder="image_encoder", dtype=dtype, use_safetensors=safetensors(_ENCODER)
        ),
        unet=UNet2DConditionModel.from_pretrained(
            path, subfolder="unet", dtype=dtype, use_safetensors=safetensors(_UNET)
        ),
        scheduler=scheduler_class.from_config(scheduler_config),
        safety_checker=None,
        feature_extractor=CLIPImageProcessor.from_pretrained(path, subfolder="feature_extractor"),
        requires_safety_checker=False,
    )


def build_exemplar_inpainter(models: ModelSettings) -> PaintByExampleInpainter:
    from core.imaging.backends.torch_device import resolve_placement

    placement = resolve_placement(models.device)
    return PaintByExampleInpainter(load_pipeline(weights(models).materialize(), placement.dtype), placement)
