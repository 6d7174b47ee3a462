"""Inpainting with diffusers' Stable Diffusion inpainting pipeline (SD 1.5 inpainting class models).

- fp16 on CUDA, fp32 on the CPU. Only the ``fp16`` safetensors are fetched (the official repo publishes its
  fp32 weights as pickles only); on the CPU they are loaded up to fp32.
- Seeded with a CPU ``torch.Generator``: the same seed gives the same starting noise on any device.
- Attention uses PyTorch SDPA (diffusers' default on torch 2); attention slicing is switched on only for
  GPUs under 8 GiB, where it trades speed for fitting at all.
- Safety checker: off by default (``ModelSettings.safety_checker``). The pipeline only ever paints the lower
  half of a face crop; the checker then mostly sees skin close-ups, flags some of them, and silently returns
  a black square. When switched on, a flagged result raises ``UserError("unmask.unsafe_result")`` instead.
- Identity: a request with an identity that has an adapter runs with exactly that LoRA loaded (see
  ``identity_lora.use_identity``; unloaded again after the run) and "a photo of <token> person, " before its
  prompt. The pipeline is shared by every user of the worker; ``pipeline`` exposes it so the training
  worker can reuse the warm components instead of loading a second copy.
- One run at a time: ``lock`` is held while the pipeline runs. Other backends that change the shared UNet
  for a while (the try-on painter installs IP-Adapter layers in it) hold it too, so a worker loading one
  pipeline in the background while a job runs another never sees the UNet half-changed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from PIL import Image

from core.config import ModelSettings
from core.errors import UserError
from core.imaging.backends.base import InpaintRequest, StepProgress
from core.imaging.backends.standard.identity_lora import loaded_identities, unload_identities, use_identity
from core.imaging.backends.standard.weights import WeightsRef, first_existing

if TYPE_CHECKING:
    from core.imaging.backends.torch_device import Placement

SMALL_GPU_BYTES = 8 * 1024**3


class StableDiffusionInpainter:
    resolution: ClassVar[int | None] = 512

    def __init__(self, pipe: Any, placement: Placement) -> None:
        pipe = pipe.to(placement.device)
        pipe.set_progress_bar_config(disable=True)
        if placement.is_cuda:
            import torch

            if torch.cuda.get_device_properties(placement.device).total_memory < SMALL_GPU_BYTES:
                pipe.enable_attention_slicing()
        self._pipe = pipe
        self._placement = placement
        self._lock = threading.RLock()
        # The VAE works on multiples of 8 pixels (2 ** number of down blocks, in general).
        self._multiple = int(pipe.vae_scale_factor)

    @property
    def pipeline(self) -> Any:
        """The warm diffusers pipeline (read-only: for reusing its components, e.g. in training)."""
        return self._pipe

    @property
    def lock(self) -> threading.RLock:
        """Held while the pipeline runs; hold it to change the shared UNet (re-entrant)."""
        return self._lock

    def loaded_identities(self) -> set[str]:
        return loaded_identities(self._pipe)

    def unload_identities(self) -> None:
        unload_identities(self._pipe)

    def inpaint(
        self, image: Image.Image, mask: Image.Image, request: InpaintRequest, progress: StepProgress
    ) -> Image.Image:
        import torch

        work_image, work_mask = fit_to_multiple(image, mask, self._multiple)
        width, height = work_image.size

        def on_step_end(
            pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]
        ) -> dict[str, Any]:
            progress(min(1.0, (step + 1) / max(1, pipe.num_timesteps)))
            return callback_kwargs

        identity = request.identity if request.identity and request.identity.adapter else None
        prompt = ", ".join(p for p in (identity.prompt_subject if identity else "", request.prompt) if p)
        with self._lock, use_identity(self._pipe, identity), torch.inference_mode():
            out = self._pipe(
                prompt=prompt,
                negative_prompt=request.negative_prompt or None,
                image=work_image,
                mask_image=work_mask,
                height=height,
                width=width,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance_scale,
                strength=request.strength,
                generator=torch.Generator(device="cpu").manual_seed(request.seed),
                callback_on_step_end=on_step_end,
                output_type="pil",
            )
        flagged = getattr(out, "nsfw_content_detected", None)
        if flagged and any(flagged):
            raise UserError("unmask.unsafe_result")
        result: Image.Image = out.images[0]
        return result if result.size == image.size else result.resize(image.size, Image.Resampling.LANCZOS)


def fit_to_multiple(image: Image.Image, mask: Image.Image, multiple: int) -> tuple[Image.Image, Image.Image]:
    """Image and mask resized to sides the VAE can take (multiples of ``multiple``, rounded down)."""
    if image.size != mask.size:
        raise ValueError(f"image {image.size} and mask {mask.size} differ in size")
    width, height = (max(multiple, side - side % multiple) for side in image.size)
    size = (width, height)
    return (
        image.convert("RGB").resize(size, Image.Resampling.LANCZOS),
        mask.convert("L").resize(size, Image.Resampling.NEAREST),
    )


# --- weights and factory --------------------------------------------------------------------------------
_UNET = ("unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.safetensors")
_VAE = ("vae/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors")
_TEXT = ("text_encoder/model.fp16.safetensors", "text_encoder/model.safetensors")
_SAFETY = ("safety_checker/model.fp16.safetensors", "safety_checker/model.safetensors")


def weights(models: ModelSettings) -> WeightsRef:
    required: tuple[tuple[str, ...], ...] = (
        ("model_index.json",),
        ("unet/config.json",),
        _UNET,
        ("vae/config.json",),
        _VAE,
        ("text_encoder/config.json",),
        _TEXT,
        # The hub repo has vocab.json + merges.txt; a local save_pretrained export has tokenizer.json.
        ("tokenizer/vocab.json", "tokenizer/tokenizer.json"),
        ("tokenizer/merges.txt", "tokenizer/tokenizer.json"),
        ("scheduler/scheduler_config.json",),
    )
    if models.safety_checker:
        required += (
            ("safety_checker/config.json",),
            _SAFETY,
            ("feature_extractor/preprocessor_config.json",),
        )
    return WeightsRef(
        models.inpainter,
        required=required,
        extras=("tokenizer/*.json", "tokenizer/*.txt"),
        cache_dir=models.cache_dir,
    )


def build_inpainter(models: ModelSettings) -> StableDiffusionInpainter:
    from diffusers import StableDiffusionInpaintPipeline

    from core.imaging.backends.torch_device import resolve_placement

    placement = resolve_placement(models.device)
    path = weights(models).materialize()
    # Load whichever variant was fetched (a local export may carry plain fp32 safetensors only).
    variant = "fp16" if first_existing(path, _UNET[0]) else None
    components: dict[str, Any] = (
        {} if models.safety_checker else {"safety_checker": None, "feature_extractor": None}
    )
    pipe = StableDiffusionInpaintPipeline.from_pretrained(
        path,
        dtype=placement.dtype,
        variant=variant,
        use_safetensors=True,
        requires_safety_checker=models.safety_checker,
        **components,
    )
    return StableDiffusionInpainter(pipe, placement)
