"""DreamBooth-style LoRA training of a person's identity on the Stable Diffusion inpainting UNet.

The recipe follows diffusers' ``train_dreambooth_lora`` / ``dreambooth_inpaint`` examples: a peft LoRA on the
UNet's attention projections (text encoder, VAE and the UNet's own weights frozen), AdamW on the LoRA weights
only, the DDPM noise schedule of the base scheduler's config, the inpainting conditioning (mask + masked-image
latents), and optionally prior preservation with class images. On CUDA the forward pass runs under autocast
(fp16 with a gradient scaler, or bf16) with the LoRA weights kept in fp32; on the CPU everything is fp32.

The components may be the very objects a warm ``StableDiffusionInpainter`` holds (its ``pipeline``): the
LoRA is added for the training only and removed again in any case (finished, failed, or cancelled by
``progress`` raising), with the UNet's ``requires_grad`` flags and train/eval mode restored, so inference on
that pipeline afterwards is unchanged. Training and inference must not use the same pipeline at the same time.

Each step's randomness (image order, flips, masks, VAE sampling, noise, timesteps) is drawn from
``(seed, step)``: a run is deterministic on the CPU, and a run resumed from a checkpoint continues exactly as
if it had never stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from core.config import TrainSettings
from core.imaging.backends.base import INSTANCE_PROMPT
from core.ports import BlobStore
from dreambooth.checkpoints import CheckpointStore, capture_state, restore_state
from dreambooth.dataset import CLASS_PROMPT, FaceCropDataset, TrainBatch, tokenize
from dreambooth.dataset import class_images as cached_class_images

if TYPE_CHECKING:
    import torch

TRAINING_ADAPTER = "atelier-training"
TrainProgress = Callable[[int, int, float], None]  # (step done, total steps, loss); may raise to cancel


@dataclass(frozen=True)
class LoraTrainConfig:
    rank: int = 8
    alpha: int = 8
    steps: int = 800
    learning_rate: float = 1e-4
    resolution: int = 512
    batch_size: int = 1
    checkpoint_every: int = 100
    prior_preservation: bool = False
    class_images: int = 50
    prior_loss_weight: float = 1.0
    seed: int = 0
    target_modules: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
    mixed_precision: Literal["fp16", "bf16"] = "fp16"  # CUDA only
    max_grad_norm: float = 1.0
    weight_decay: float = 1e-2
    gradient_checkpointing: bool = False

    @classmethod
    def from_settings(cls, train: TrainSettings, *, resolution: int | None = None) -> LoraTrainConfig:
        """The recipe in ``Settings.train``; ``resolution`` overrides it for models of another size (the
        tiny tier's 64 px pipeline)."""
        return cls(
            rank=train.rank,
            alpha=train.rank,
            steps=train.steps,
            learning_rate=train.learning_rate,
            resolution=resolution or train.resolution,
            batch_size=train.batch_size,
            checkpoint_every=train.checkpoint_every,
            prior_preservation=train.prior_preservation,
            class_images=train.class_images,
            prior_loss_weight=train.prior_loss_weight,
            seed=train.seed,
        )


@dataclass(frozen=True)
class TrainResult:
    adapter: bytes  # diffusers-format LoRA safetensors, loadable with ``pipe.load_lora_weights``
    losses: list[float]  # one per step, the resumed steps' included
    resumed_from: int  # the checkpoint step this run started from (0: from scratch)


def train_on_inpainter(
    inpainter: Any,
    images: Sequence[Image.Image],
    landmarks: Sequence[np.ndarray | None],
    token: str,
    train: TrainSettings,
    checkpoints: CheckpointStore,
    progress: TrainProgress,
    *,
    blobs: BlobStore | None = None,
    base_model: str | None = None,
) -> tuple[TrainResult, LoraTrainConfig]:
    """``train_identity`` on a warm ``StableDiffusionInpainter``'s own pipeline (no second copy of the
    weights), at the resolution it paints at (512 on the standard tier, 64 on the tiny one).

    The inpainter's lock is held throughout: the UNet is shared by every command in the worker process, and
    another one changing it meanwhile (the try-on painter installs its IP-Adapter layers while it loads or
    paints, from the worker's warm-up thread) would break the training's forward passes."""
    config = LoraTrainConfig.from_settings(train, resolution=type(inpainter).resolution)
    with getattr(inpainter, "lock", None) or contextlib.nullcontext():
        result = train_identity(
            inpainter.pipeline,
            images,
            landmarks,
            token,
            config,
            checkpoints,
            progress,
            blobs=blobs,
            base_model=base_model,
        )
    return result, config


def train_identity(
    components: Any,
    images: Sequence[Image.Image],
    landmarks: Sequence[np.ndarray | None],
    token: str,
    config: LoraTrainConfig,
    checkpoints: CheckpointStore,
    progress: TrainProgress,
    *,
    class_images: Sequence[Image.Image] | None = None,
    blobs: BlobStore | None = None,
    base_model: str | None = None,
) -> TrainResult:
    """Train an identity LoRA for ``token`` on ``images`` and return it as safetensors bytes.

    ``components``: an SD inpainting pipeline (``vae``, ``text_encoder``, ``tokenizer``, ``unet``,
    ``scheduler``), already on the training device. Resumes from ``checkpoints.latest()`` when it belongs to
    the same recipe and data; the caller clears the checkpoints once the adapter is stored.

    With ``config.prior_preservation``: ``class_images`` as given, or else those of ``base_model`` cached in
    ``blobs`` (generated with ``components`` on first use; see ``dataset.class_images``).
    """
    import torch

    # 1. Check inputs
    unet = components.unet
    if getattr(unet, "peft_config", None):
        raise RuntimeError(f"the UNet already carries adapters {sorted(unet.peft_config)}; unload them first")
    if config.prior_preservation and not class_images:
        if blobs is None or base_model is None:
            raise ValueError("prior preservation needs class images, or a blob store and base model id")
        class_images = cached_class_images(
            components, blobs, base_model, config.class_images, config.resolution, seed=config.seed
        )
    class_images = list(class_images or ()) if config.prior_preservation else []
    # Read once: each is a walk over every module of the model (and the LoRA would change the UNet's answer).
    device, unet_dtype, vae_dtype = unet.device, unet.dtype, components.vae.dtype
    amp = device.type == "cuda"
    amp_dtype = torch.bfloat16 if config.mixed_precision == "bf16" else torch.float16

    # 2. Data: the user's crops, the class images, and the two captions encoded once (the encoder is frozen)
    instance = FaceCropDataset(
        images, landmarks, config.resolution, INSTANCE_PROMPT.format(token=token), components.tokenizer
    )
    prior = (
        FaceCropDataset(
            class_images, [None] * len(class_images), config.resolution, CLASS_PROMPT, components.tokenizer
        )
        if config.prior_preservation
        else None
    )
    with torch.no_grad():
        captions = [instance.input_ids] + ([tokenize(components.tokenizer, CLASS_PROMPT)] if prior else [])
        encoded = [components.text_encoder(ids.to(device))[0] for ids in captions]
    fingerprint = _fingerprint(config, token, images, landmarks, len(class_images))

    # 3. LoRA on the UNet (its own weights frozen), AdamW, the DDPM noise schedule
    from diffusers import DDPMScheduler
    from peft import LoraConfig

    requires_grad = {name: p.requires_grad for name, p in unet.named_parameters()}
    was_training, was_checkpointing = unet.training, bool(getattr(unet, "is_gradient_checkpointing", False))
    try:
        unet.requires_grad_(False)
        with torch.random.fork_rng(devices=[device] if amp else []):
            torch.manual_seed(config.seed)
            lora = LoraConfig(
                r=config.rank,
                lora_alpha=config.alpha,
                init_lora_weights="gaussian",
                target_modules=list(config.target_modules),
            )
            unet.add_adapter(lora, adapter_name=TRAINING_ADAPTER)
        params = sorted(((n, p) for n, p in unet.named_parameters() if p.requires_grad), key=lambda x: x[0])
        for _, p in params:
            p.data = p.data.float()  # fp32 master weights for the LoRA even on an fp16 UNet
        optimizer = torch.optim.AdamW(
            [p for _, p in params], lr=config.learning_rate, weight_decay=config.weight_decay
        )
        scaler = torch.amp.GradScaler(device.type, enabled=amp and amp_dtype == torch.float16)
        noise_scheduler = DDPMScheduler.from_config(components.scheduler.config)
        if config.gradient_checkpointing:
            unet.enable_gradient_checkpointing()

        # 4. Resume
        start, losses = restore_state(checkpoints.latest(), fingerprint, params, optimizer, scaler)

        # 5. Train
        unet.train()
        for step in range(start + 1, config.steps + 1):
            batch = _batch(instance, prior, config, step)
            generator = torch.Generator(device=device).manual_seed(_stream_seed(config.seed, step, 1))
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp):
                loss = _loss(
                    components, noise_scheduler, batch, encoded, config, generator, (unet_dtype, vae_dtype)
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_([p for _, p in params], config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss.detach()))
            if step % config.checkpoint_every == 0 or step == config.steps:
                checkpoints.save(capture_state(step, fingerprint, losses, params, optimizer, scaler))
            progress(step, config.steps, losses[-1])

        # 6. Export
        adapter = export_adapter(unet, config)
    finally:
        _restore(unet, requires_grad, was_training, was_checkpointing)
    return TrainResult(adapter=adapter, losses=losses, resumed_from=start)


def export_adapter(unet: Any, config: LoraTrainConfig, adapter_name: str = TRAINING_ADAPTER) -> bytes:
    """The adapter as diffusers-format LoRA safetensors (``unet.…to_q.lora.down.weight``), fp32.

    Files without alphas load with scale 1 (alpha = rank), so a recipe with another alpha has its scale
    folded into the up-projections."""
    import torch
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save

    scale = config.alpha / config.rank
    state = get_peft_model_state_dict(unet, adapter_name=adapter_name)
    state = {key: value * scale if ".lora_B." in key else value for key, value in state.items()}
    tensors: dict[str, torch.Tensor] = {
        f"unet.{key}": value.detach().to("cpu", torch.float32).contiguous()
        for key, value in convert_state_dict_to_diffusers(state).items()
    }
    return save(tensors, metadata={"format": "pt"})


# --- one step ---------------------------------------------------------------------------------------------
def _batch(
    instance: FaceCropDataset, prior: FaceCropDataset | None, config: LoraTrainConfig, step: int
) -> TrainBatch:
    import torch

    rng = np.random.default_rng([config.seed, step, 0])
    batch = instance.batch(_indices(len(instance), step, config, stream=0), rng)
    if prior is None:
        return batch
    extra = prior.batch(_indices(len(prior), step, config, stream=1), rng)
    return TrainBatch(*(torch.cat(pair) for pair in zip(_fields(batch), _fields(extra), strict=True)))


def _fields(batch: TrainBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return batch.pixel_values, batch.masks, batch.masked_pixel_values


def _indices(count: int, step: int, config: LoraTrainConfig, stream: int) -> list[int]:
    """Epochs over the images, each in its own seeded order: every image is seen equally often."""
    picks = []
    for slot in range((step - 1) * config.batch_size, step * config.batch_size):
        epoch, position = divmod(slot, count)
        picks.append(int(np.random.default_rng([config.seed, stream, epoch]).permutation(count)[position]))
    return picks


def _stream_seed(seed: int, step: int, stream: int) -> int:
    return int(np.random.default_rng([seed, step, stream]).integers(2**62))


def _loss(
    components: Any,
    noise_scheduler: Any,
    batch: TrainBatch,
    encoded: list[torch.Tensor],
    config: LoraTrainConfig,
    generator: torch.Generator,
    dtypes: tuple[torch.dtype, torch.dtype],
) -> torch.Tensor:
    """The denoising loss of one batch (instance, then class samples), inpainting conditioning."""
    import torch
    import torch.nn.functional as F

    vae, unet = components.vae, components.unet
    (unet_dtype, vae_dtype), device, size = dtypes, generator.device, len(batch.pixel_values)
    with torch.no_grad():
        pixels = torch.cat([batch.pixel_values, batch.masked_pixel_values]).to(device, vae_dtype)
        both = vae.encode(pixels).latent_dist.sample(generator=generator) * vae.config.scaling_factor
        latents, masked_latents = both[:size], both[size:]
        masks = F.interpolate(batch.masks.to(device, latents.dtype), size=latents.shape[-2:])
    noise = torch.randn(latents.shape, generator=generator, device=device, dtype=latents.dtype)
    timesteps = torch.randint(
        0, noise_scheduler.config.num_train_timesteps, (size,), generator=generator, device=device
    )
    noisy = noise_scheduler.add_noise(latents, noise, timesteps)
    if noise_scheduler.config.prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(latents, noise, timesteps)
    else:
        target = noise
    # Instance samples first, then as many class samples (prior preservation), each with its caption.
    count = config.batch_size
    hidden = torch.cat([states.expand(count, -1, -1) for states in encoded[: size // count]])
    model_input = torch.cat([noisy, masks, masked_latents], dim=1).to(unet_dtype)
    prediction = unet(model_input, timesteps, hidden.to(unet_dtype)).sample.float()
    loss = F.mse_loss(prediction[:count], target[:count].float())
    if size > count:
        loss = loss + config.prior_loss_weight * F.mse_loss(prediction[count:], target[count:].float())
    return loss


# --- checkpoints ------------------------------------------------------------------------------------------
def _fingerprint(
    config: LoraTrainConfig,
    token: str,
    images: Sequence[Image.Image],
    landmarks: Sequence[np.ndarray | None],
    class_count: int,
) -> str:
    """What a checkpoint must have been made with to be resumed: the recipe (except its length and
    checkpoint interval), the token and the exact pixels and landmarks."""
    recipe = {k: v for k, v in asdict(config).items() if k not in ("steps", "checkpoint_every")}
    digest = hashlib.sha256(json.dumps([recipe, token, class_count], sort_keys=True).encode())
    for image, points in zip(images, landmarks, strict=True):
        digest.update(np.asarray(image.convert("RGB")).tobytes())
        digest.update(b"-" if points is None else np.asarray(points, np.float32).tobytes())
    return digest.hexdigest()


def _restore(unet: Any, requires_grad: dict[str, bool], was_training: bool, was_checkpointing: bool) -> None:
    """The UNet as it was before the training: no LoRA layers, its flags and mode back."""
    if getattr(unet, "peft_config", None):
        unet.unload_lora()
    for name, p in unet.named_parameters():
        p.requires_grad_(requires_grad.get(name, p.requires_grad))
    if not was_checkpointing and getattr(unet, "is_gradient_checkpointing", False):
        unet.disable_gradient_checkpointing()
    unet.train(was_training)
