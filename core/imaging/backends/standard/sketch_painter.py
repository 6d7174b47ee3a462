"""/sketch with diffusion: SD 1.5 + ControlNet scribble, and LCM-LoRA for the fast preview.

- The drawing goes to the ControlNet as the scribble model was trained on it: white strokes on black, at
  the working size (the drawing's aspect, the shorter side at ``resolution``, the longer at most 1.5 times
  it, in multiples the UNet takes). The face is painted on the whole sheet, so it lies where it was drawn.
- Strength T (0..1) sets ``controlnet_conditioning_scale`` (0.4 at T = 0 to 1.2 at T = 1) and
  ``control_guidance_end`` (the share of the steps the drawing guides: 0.4 to 1.0): at a low T the drawing
  fixes the layout in the first steps and the model paints freely afterwards.
- Fast mode: the LCM-LoRA's layers (loaded once under the adapter name ``lcm``) are switched on for the
  call, with an LCM scheduler, 4-6 steps and guidance 1 (no classifier-free guidance, half the UNet work).
- Shared components: the text encoder, tokenizer and VAE are the SD inpainter's (``registry.shared``; the
  same SD 1.5 family), so the only new weights are the text-to-image UNet and the ControlNet. The
  inpainter's lock is held while painting, as the try-on painter does, and no identity adapter may be
  loaded in the shared text encoder (checked as in /unmask). ``inpainter`` is exposed for that check.
- Seeded with a CPU ``torch.Generator`` like the other diffusion backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
from PIL import Image, ImageFilter

from core.config import ModelSettings
from core.errors import UserError
from core.imaging.backends.base import SketchRequest, StepProgress
from core.imaging.backends.standard.identity_lora import use_identity
from core.imaging.backends.standard.weights import WeightsRef, first_existing

if TYPE_CHECKING:
    from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter

LCM_ADAPTER = "lcm"
CONDITIONING_SCALE = (0.4, 1.2)
GUIDANCE_END = (0.4, 1.0)
# Strokes are thickened to about this many pixels per 512 of working size: the scribble model saw
# thick, rough scribbles in training, and thin pencil lines at 512 px reach it as broken dots.
STROKE_AT_512 = 3

_UNET = ("unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.safetensors")
_CONTROLNET = ("diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.safetensors")


def _lerp(span: tuple[float, float], t: float) -> float:
    return span[0] + (span[1] - span[0]) * t


class ControlNetSketchPainter:
    # The working size's shorter side.
    resolution: ClassVar[int] = 512

    def __init__(self, inpainter: StableDiffusionInpainter, pipe: Any, fast_pipe: Any) -> None:
        """``pipe``: a ControlNet pipeline over the inpainter's text encoder and VAE with its own UNet (the
        LCM-LoRA loaded in it as ``lcm``, disabled) and ControlNet; ``fast_pipe``: the same models with an
        LCM scheduler."""
        self.inpainter = inpainter
        self._pipe = pipe
        self._fast = fast_pipe
        self._multiple = int(pipe.vae_scale_factor) * 2 ** (len(pipe.unet.config.block_out_channels) - 1)

    @classmethod
    def from_folders(
        cls, inpainter: StableDiffusionInpainter, base: Path, controlnet: Path, lcm: Path, lcm_weight: str
    ) -> Self:
        """Loads the UNet of ``base`` (laid out like an SD 1.5 repository), the ControlNet at ``controlnet``
        and the LCM-LoRA file ``lcm/lcm_weight``, beside ``inpainter``'s text encoder and VAE."""
        from diffusers import ControlNetModel, LCMScheduler, UNet2DConditionModel, UniPCMultistepScheduler

        shared = inpainter.pipeline
        device, dtype = shared.vae.device, shared.vae.dtype
        unet_variant = "fp16" if first_existing(base, _UNET[0]) else None
        net_variant = "fp16" if first_existing(controlnet, _CONTROLNET[0]) else None
        unet = UNet2DConditionModel.from_pretrained(
            base, subfolder="unet", variant=unet_variant, torch_dtype=dtype, use_safetensors=True
        ).to(device)
        net = ControlNetModel.from_pretrained(
            controlnet, variant=net_variant, torch_dtype=dtype, use_safetensors=True
        ).to(device)
        scheduler = UniPCMultistepScheduler.from_pretrained(base, subfolder="scheduler")
        with inpainter.lock:
            pipe = _controlnet_pipeline(shared, unet, net, scheduler)
            # ``load_lora_weights`` minus its text-encoder half: the LoRA is the UNet's only (and the text
            # encoder is the inpainter's, shared).
            state, alphas = pipe.lora_state_dict(str(lcm), weight_name=lcm_weight)
            pipe.load_lora_into_unet(
                state, network_alphas=alphas, unet=unet, adapter_name=LCM_ADAPTER, _pipeline=pipe
            )
            unet.disable_lora()
        fast = _controlnet_pipeline(shared, unet, net, LCMScheduler.from_config(scheduler.config))
        return cls(inpainter, pipe, fast)

    @property
    def pipeline(self) -> Any:
        """The ControlNet pipeline (read-only)."""
        return self._pipe

    def working_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The drawing's aspect with the shorter side at ``resolution`` and the longer at most 1.5 times
        it, in multiples of what the UNet takes."""
        width, height = size
        short = type(self).resolution
        scale = short / min(width, height)
        long_side = min(max(width, height) * scale, 1.5 * short)

        def fit(side: float) -> int:
            return max(self._multiple, round(side / self._multiple) * self._multiple)

        return (fit(long_side), fit(short)) if width >= height else (fit(short), fit(long_side))

    def control_image(self, drawing: Image.Image, size: tuple[int, int]) -> Image.Image:
        """White strokes on black at ``size``, thickened to about STROKE_AT_512 px per 512."""
        ink = Image.fromarray(np.where(np.asarray(drawing.convert("L")) < 128, 255, 0).astype(np.uint8))
        control = ink.resize(size, Image.Resampling.BOX)
        width = max(1, round(STROKE_AT_512 * min(size) / 512))
        if width > 1:
            control = control.filter(ImageFilter.MaxFilter(width | 1))
        control = control.point(lambda v: 255 if v >= 64 else 0)
        return control.convert("RGB")

    def paint(self, request: SketchRequest, progress: StepProgress) -> Image.Image:
        import torch

        size = self.working_size(request.drawing.size)
        control = self.control_image(request.drawing, size)
        t = min(1.0, max(0.0, request.strength))
        pipe = self._fast if request.fast else self._pipe

        def on_step_end(
            pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]
        ) -> dict[str, Any]:
            progress(min(1.0, (step + 1) / max(1, pipe.num_timesteps)))
            return callback_kwargs

        with self.inpainter.lock, use_identity(self.inpainter.pipeline, None), torch.inference_mode():
            unet = pipe.unet
            if request.fast:
                unet.enable_lora()
                unet.set_adapters([LCM_ADAPTER])
            try:
                out = pipe(
                    prompt=request.prompt,
                    negative_prompt=request.negative_prompt or None,
                    image=control,
                    width=size[0],
                    height=size[1],
                    num_inference_steps=request.steps,
                    guidance_scale=request.guidance_scale,
                    controlnet_conditioning_scale=_lerp(CONDITIONING_SCALE, t),
                    control_guidance_end=_lerp(GUIDANCE_END, t),
                    generator=torch.Generator(device="cpu").manual_seed(request.seed),
                    callback_on_step_end=on_step_end,
                    output_type="pil",
                )
            finally:
                unet.disable_lora()
        flagged = getattr(out, "nsfw_content_detected", None)
        if flagged and any(flagged):
            raise UserError("unmask.unsafe_result")
        painted: Image.Image = out.images[0]
        return painted.resize(request.size, Image.Resampling.LANCZOS)


def _controlnet_pipeline(shared: Any, unet: Any, controlnet: Any, scheduler: Any) -> Any:
    """A ControlNet pipeline over ``shared``'s text encoder, tokenizer and VAE (no safety checker: the
    content check of every result runs after the pipeline, as for every kind)."""
    from diffusers import StableDiffusionControlNetPipeline

    pipe: Any = StableDiffusionControlNetPipeline(
        vae=shared.vae,
        text_encoder=shared.text_encoder,
        tokenizer=shared.tokenizer,
        unet=unet,
        controlnet=controlnet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


# --- weights and factory --------------------------------------------------------------------------------
def weights(models: ModelSettings) -> tuple[WeightsRef, WeightsRef, WeightsRef]:
    """The base UNet (with its scheduler's config), the ControlNet and the LCM-LoRA."""
    base = WeightsRef(
        models.sketch_base,
        required=(("unet/config.json",), _UNET, ("scheduler/scheduler_config.json",)),
        cache_dir=models.cache_dir,
    )
    controlnet = WeightsRef(
        models.sketch_controlnet, required=(("config.json",), _CONTROLNET), cache_dir=models.cache_dir
    )
    lcm = WeightsRef(
        models.sketch_lcm_lora, required=((models.sketch_lcm_lora_weight,),), cache_dir=models.cache_dir
    )
    return base, controlnet, lcm


def build_sketch_painter(models: ModelSettings) -> ControlNetSketchPainter:
    from core.imaging.backends import registry

    base, controlnet, lcm = (ref.materialize() for ref in weights(models))
    lcm_folder = lcm.parent if lcm.is_file() else lcm
    return ControlNetSketchPainter.from_folders(
        registry.shared("inpainter", models), base, controlnet, lcm_folder, models.sketch_lcm_lora_weight
    )
