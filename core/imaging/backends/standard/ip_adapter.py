"""IP-Adapter Plus for SD 1.5 (``h94/IP-Adapter``, Apache-2.0), kept beside the shared inpainting UNet.

IP-Adapter conditions Stable Diffusion on a picture: a CLIP ViT-H/14 image encoder's penultimate features,
resampled to 16 tokens, feed an extra key/value projection in every cross-attention layer. diffusers'
``load_ip_adapter`` installs it by replacing the UNet's attention processors and setting the UNet's
``encoder_hid_proj``, after which every call of that UNet *requires* an image embedding. The UNet is the one
/unmask and /suit use (one copy of its weights per worker), so the adapter cannot stay installed:

- it is loaded once with ``load_ip_adapter`` (the real loader, from the hub repo's file layout), its layers
  are taken back out of the UNet at once and kept aside (``IPAdapterLayers``): the UNet is left as it was;
- a try-on installs them for the duration of one call (``IPAdapterLayers.installed``) and puts back the
  processors it found, whatever happens in between. Swapping moves Python references only, no weights.

The image encoder (~1.3 GB in fp16) belongs to the try-on's own view of the pipeline, never to the shared
one. Callers hold the shared inpainter's lock while the UNet is changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from core.config import ModelSettings
from core.imaging.backends.standard.weights import WeightsRef

# What diffusers sets ``unet.config.encoder_hid_dim_type`` to while an IP-Adapter is installed.
IMAGE_PROJECTION = "ip_image_proj"


def encoder_folder(weight: str, encoder: str) -> str:
    """The image encoder's folder in the repo, as ``load_ip_adapter`` resolves it: a bare name is a folder
    beside the weight file, anything with a slash is relative to the repo root."""
    if "/" in encoder:
        return encoder
    return str(PurePosixPath(PurePosixPath(weight).parent, encoder))


def weights(models: ModelSettings) -> WeightsRef:
    folder = encoder_folder(models.ip_adapter_weight, models.ip_adapter_encoder)
    return WeightsRef(
        models.ip_adapter,
        required=(
            (models.ip_adapter_weight,),
            (f"{folder}/config.json",),
            (f"{folder}/model.safetensors", f"{folder}/pytorch_model.bin"),
        ),
        cache_dir=models.cache_dir,
    )


class IPAdapterLayers:
    """One IP-Adapter's layers for one UNet, held outside it: the cross-attention processors with their
    image key/value projections, and the image projection (IP-Adapter Plus's resampler)."""

    def __init__(self, unet: Any, processors: dict[str, Any], projection: Any) -> None:
        self._unet = unet
        self._processors = processors
        self._projection = projection

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The UNet with this adapter in it for the body; afterwards exactly the processors and projection
        it had before (attention slicing, for one, survives)."""
        unet = self._unet
        plain = unet.attn_processors
        before = (unet.encoder_hid_proj, unet.config.encoder_hid_dim_type)
        try:
            # Processors first: the projection has attention layers of its own, which must not be counted.
            unet.set_attn_processor(dict(self._processors))
            unet.encoder_hid_proj = self._projection
            unet.config.encoder_hid_dim_type = IMAGE_PROJECTION
            yield
        finally:
            unet.encoder_hid_proj, unet.config.encoder_hid_dim_type = before
            unet.set_attn_processor(plain)


def load_ip_adapter_layers(pipe: Any, root: Path, weight: str, encoder: str) -> IPAdapterLayers:
    """Loads the IP-Adapter at ``root/weight`` and its image encoder (``encoder``, see ``encoder_folder``)
    into ``pipe`` with diffusers' ``load_ip_adapter``, then takes the adapter's layers back out of the UNet.

    ``pipe`` keeps the image encoder and feature extractor; its UNet ends as it began. ``root`` is a local
    folder laid out like ``h94/IP-Adapter``: nothing is downloaded here.
    """
    unet = pipe.unet
    plain = unet.attn_processors
    before = (unet.encoder_hid_proj, unet.config.encoder_hid_dim_type)
    path = PurePosixPath(weight)
    try:
        pipe.load_ip_adapter(
            str(root),
            subfolder=str(path.parent) if str(path.parent) != "." else "",
            weight_name=path.name,
            image_encoder_folder=encoder_folder(weight, encoder),
            local_files_only=True,
        )
        projection = unet.encoder_hid_proj
        unet.encoder_hid_proj = None
        processors = unet.attn_processors
    finally:
        unet.encoder_hid_proj, unet.config.encoder_hid_dim_type = before
        unet.set_attn_processor(plain)
    return IPAdapterLayers(unet, processors, projection)
