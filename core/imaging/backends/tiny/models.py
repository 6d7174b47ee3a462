"""Miniature, randomly initialised, seeded versions of the production architectures, built in code.

Each builder returns the same library classes the standard tier loads from the hub (ultralytics YOLO,
transformers SAM / Swin2SR / Swin classifier, diffusers SD inpainting), only with a few thousand parameters.
Their outputs are noise, but every line of the production path runs on them. Nothing is downloaded.

Seeding: each builder draws from its own forked torch RNG, so a build gives the same weights every time and
does not disturb the caller's random state.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.imaging.backends.standard.yolo import import_yolo

if TYPE_CHECKING:
    from ultralytics import YOLO

TINY_SEED = 1234
DETECTOR_CLASSES = {0: "face", 1: "face_mask"}
CLASSIFIER_LABELS = {0: "WithMask", 1: "WithoutMask"}
SAM_IMAGE_SIZE = 64
SD_RESOLUTION = 64


@contextmanager
def seeded(offset: int) -> Iterator[None]:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED + offset)
        yield


def random_yolo(
    classes: dict[int, str], class_bias: dict[int, float], *, config: str = "yolov8n.yaml"
) -> YOLO:
    """A randomly initialised ultralytics YOLO of the given architecture with ``classes``, seeded.

    Random heads score every class near zero (ultralytics initialises the class biases to about -8);
    ``class_bias`` sets the bias of chosen classes, i.e. how confident the model is in them a priori.
    """
    import torch
    import yaml

    yolo_cls = import_yolo()
    from ultralytics.nn.tasks import yaml_model_load

    spec = yaml_model_load(config)
    spec = {key: value for key, value in spec.items() if key != "yaml_file"} | {"nc": len(classes)}
    with tempfile.TemporaryDirectory(prefix="atelier-random-yolo-") as folder:
        # Keep the scale letter in the name ("yolov8n"): ultralytics reads the width/depth scale from it.
        path = Path(folder) / f"{Path(config).stem}-custom.yaml"
        path.write_text(yaml.safe_dump(spec))
        with seeded(1):
            model = yolo_cls(str(path), task="detect")
    network: Any = model.model
    network.names = dict(classes)
    with torch.no_grad():
        for branch in network.model[-1].cv3:
            for class_id, bias in class_bias.items():
                branch[-1].bias[class_id] = bias
    return model


def tiny_yolo() -> YOLO:
    """YOLOv8n (the smallest real YOLO, 3 M parameters) with two classes: face and face_mask.

    The class biases make ``face_mask`` win with a confidence of about 0.95 and ``face`` never: the tiny tier
    then passes the pipeline's detection threshold and walks the unmask path (masked face found) instead of
    stopping at "no face" or "no mask", which is the path its tests need to cover. Box positions and sizes
    stay random.
    """
    return random_yolo(DETECTOR_CLASSES, {0: -10.0, 1: 3.0})


def tiny_classifier() -> tuple[Any, Any]:
    """A two-stage Swin (the default classifier's architecture) on 32 px crops, WithMask/WithoutMask."""
    from transformers import SwinConfig, SwinForImageClassification, ViTImageProcessor

    config = SwinConfig(
        image_size=32,
        patch_size=4,
        embed_dim=16,
        depths=[1, 1],
        num_heads=[2, 2],
        window_size=4,
        id2label=dict(CLASSIFIER_LABELS),
        label2id={name: i for i, name in CLASSIFIER_LABELS.items()},
    )
    with seeded(2):
        model = SwinForImageClassification(config).eval()
    return model, ViTImageProcessor(size={"height": 32, "width": 32})


def tiny_sam() -> tuple[Any, Any]:
    """SAM with a 2-layer ViT encoder at 64 px and a 16-wide prompt encoder / mask decoder."""
    from transformers import (
        SamConfig,
        SamImageProcessor,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    patch = 8
    config = SamConfig(
        vision_config=SamVisionConfig(
            hidden_size=32,
            output_channels=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=SAM_IMAGE_SIZE,
            patch_size=patch,
            window_size=4,
            global_attn_indexes=[1],
            num_pos_feats=8,
            mlp_dim=64,
        ),
        prompt_encoder_config=SamPromptEncoderConfig(
            hidden_size=16, image_size=SAM_IMAGE_SIZE, patch_size=patch, mask_input_channels=4
        ),
        mask_decoder_config=SamMaskDecoderConfig(
            hidden_size=16, mlp_dim=32, num_hidden_layers=2, num_attention_heads=2, iou_head_hidden_dim=16
        ),
    )
    with seeded(3):
        model = SamModel(config).eval()
    # The decoder emits masks at 4x the embedding grid (64 / 8 * 4 = 32 px).
    mask_side = SAM_IMAGE_SIZE // patch * 4
    processor = SamProcessor(
        SamImageProcessor(
            size={"longest_edge": SAM_IMAGE_SIZE},
            pad_size={"height": SAM_IMAGE_SIZE, "width": SAM_IMAGE_SIZE},
            mask_size={"longest_edge": mask_side},
            mask_pad_size={"height": mask_side, "width": mask_side},
        )
    )
    return model, processor


def tiny_swin2sr() -> tuple[Any, Any]:
    """Swin2SR x4 with one 16-wide stage: the production x4 pixel-shuffle upsampler on a tiny body."""
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution, Swin2SRImageProcessor

    config = Swin2SRConfig(
        image_size=32,
        embed_dim=16,
        depths=[1],
        num_heads=[2],
        window_size=8,
        mlp_ratio=2.0,
        upscale=4,
        upsampler="pixelshuffle",
    )
    with seeded(4):
        model = Swin2SRForImageSuperResolution(config).eval()
    return model, Swin2SRImageProcessor(size_divisor=config.window_size)


def tiny_sd_inpaint_pipeline() -> Any:
    """SD inpainting at 64 px: a 9-channel UNet with two small blocks, a 2-block VAE, a 2-layer CLIP text
    encoder over the real 49,408-token CLIP vocabulary, DDIM like the production checkpoint, no safety
    checker."""
    from diffusers import StableDiffusionInpaintPipeline
    from transformers import CLIPTextConfig, CLIPTextModel

    from core.imaging.backends.tiny.clip_vocab import VOCAB_SIZE, clip_tokenizer

    tokenizer = clip_tokenizer()
    with seeded(5):
        unet = tiny_inpaint_unet()
        vae = tiny_vae()
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=VOCAB_SIZE,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                max_position_embeddings=tokenizer.model_max_length,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        )
    return StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=sd15_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def tiny_inpaint_unet(cross_attention_dim: int = 32) -> Any:
    """A 9-channel inpainting UNet at 64 px with two small blocks (draws from the current torch RNG)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=SD_RESOLUTION // 2,
        in_channels=9,  # 4 noisy latents + 1 mask + 4 masked-image latents
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def tiny_vae() -> Any:
    """A 2-block VAE with SD's 4 latent channels (draws from the current torch RNG)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8,
        sample_size=SD_RESOLUTION,
    )


def sd15_scheduler() -> Any:
    """DDIM with Stable Diffusion 1.5's noise schedule (its ``scheduler_config.json``)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
