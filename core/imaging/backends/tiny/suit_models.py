"""Miniature random models for /suit, built in code like those in ``models``: a SegFormer face parser with
the 19 CelebAMask-HQ classes of ``jonathandinu/face-parsing`` and a Paint-by-Example pipeline at 64 px."""

from __future__ import annotations

from typing import Any

from core.imaging.backends.tiny.models import seeded, tiny_inpaint_unet, tiny_vae

# The hub model's classes, in its order (the backend reads them by name, so the order is only realism).
FACE_LABELS = (
    "background",
    "skin",
    "nose",
    "eye_g",
    "l_eye",
    "r_eye",
    "l_brow",
    "r_brow",
    "l_ear",
    "r_ear",
    "mouth",
    "u_lip",
    "l_lip",
    "hair",
    "hat",
    "ear_r",
    "neck_l",
    "neck",
    "cloth",
)
PARSER_IMAGE_SIZE = 64
EXEMPLAR_IMAGE_SIZE = 32
EMBEDDING_SIZE = 32


def tiny_face_parser() -> tuple[Any, Any]:
    """A two-stage SegFormer (the hub model is the four-stage b5) on 64 px crops."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    config = SegformerConfig(
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[16, 32],
        patch_sizes=[7, 3],
        strides=[4, 2],
        num_attention_heads=[1, 2],
        mlp_ratios=[2, 2],
        decoder_hidden_size=32,
        id2label=dict(enumerate(FACE_LABELS)),
        label2id={name: i for i, name in enumerate(FACE_LABELS)},
    )
    with seeded(6):
        model = SegformerForSemanticSegmentation(config).eval()
    processor = SegformerImageProcessor(size={"height": PARSER_IMAGE_SIZE, "width": PARSER_IMAGE_SIZE})
    return model, processor


def paint_by_example_scheduler() -> Any:
    """The PNDM scheduler Paint-by-Example ships with (its hub scheduler_config.json)."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def tiny_paint_by_example_pipeline() -> Any:
    """Paint-by-Example at 64 px: the tiny inpainting UNet and VAE, a 4-layer CLIP vision encoder on 32 px
    examples (its mapper gets one block, as (layers + 1) // 5 says), PNDM like the hub repo."""
    from diffusers import PaintByExamplePipeline
    from diffusers.pipelines.deprecated.paint_by_example import PaintByExampleImageEncoder
    from transformers import CLIPImageProcessor, CLIPVisionConfig

    with seeded(7):
        unet = tiny_inpaint_unet(cross_attention_dim=EMBEDDING_SIZE)
        vae = tiny_vae()
        image_encoder = PaintByExampleImageEncoder(
            CLIPVisionConfig(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=4,
                num_attention_heads=4,
                image_size=EXEMPLAR_IMAGE_SIZE,
                patch_size=8,
                projection_dim=EMBEDDING_SIZE,
            )
        ).eval()
    scheduler = paint_by_example_scheduler()
    feature_extractor = CLIPImageProcessor(
        size={"shortest_edge": EXEMPLAR_IMAGE_SIZE},
        crop_size={"height": EXEMPLAR_IMAGE_SIZE, "width": EXEMPLAR_IMAGE_SIZE},
    )
    return PaintByExamplePipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=feature_extractor,
        requires_safety_checker=False,
    )
