"""A user's identity LoRA inside a long-lived diffusers inpainting pipeline: load, check, unload.

A warm pipeline serves every user in turn, and diffusers keeps a loaded adapter until told otherwise. So a
job wraps its inference in ``use_identity``: on entry it makes sure no *other* user's adapter is left
loaded (if one is, it is unloaded and the job fails loudly: that would be a bug, and generating a face with
a stranger's identity is the one thing that must never happen), loads this user's adapter under its own name,
and unloads it again in ``finally``, whatever happens in between.

Adapters arrive as bytes from the blob store and are parsed with ``safetensors.torch.load`` only: no pickle,
no path, nothing that could run code. Only UNet LoRA weights are accepted (the text encoder stays untouched).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from core.imaging.backends.base import Identity

if TYPE_CHECKING:
    import torch


def adapter_state_dict(adapter: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a diffusers-format UNet LoRA safetensors file; ``ValueError`` for anything else."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        state = load(adapter)
    except SafetensorError as error:
        raise ValueError(f"identity adapter is not a safetensors file: {error}") from error
    if not state or not all(key.startswith("unet.") and ".lora" in key for key in state):
        raise ValueError("identity adapter holds tensors other than UNet LoRA weights")
    return state


def loaded_identities(pipe: Any) -> set[str]:
    """Names of every adapter loaded into any of the pipeline's models (UNet, text encoder)."""
    names: set[str] = set()
    for component in ("unet", "text_encoder"):
        config = getattr(getattr(pipe, component, None), "peft_config", None)
        if config:
            names.update(config)
    return names


def load_identity(pipe: Any, identity: Identity) -> None:
    """Load ``identity.adapter`` under ``adapter_name=identity.name`` and make it the active adapter."""
    if identity.adapter is None:
        raise ValueError(f"identity {identity.name!r} has no adapter")
    unet = pipe.unet
    device, dtype = unet.device, unet.dtype  # each a walk over the UNet's modules: once, not per tensor
    state = {
        key: value.to(device=device, dtype=dtype)
        for key, value in adapter_state_dict(identity.adapter).items()
    }
    # ``load_lora_weights`` minus its text-encoder half, which would warn on every job that it found no keys.
    pipe.load_lora_into_unet(
        state, network_alphas=None, unet=unet, adapter_name=identity.name, _pipeline=pipe
    )
    pipe.set_adapters([identity.name])


def unload_identities(pipe: Any) -> None:
    """Remove every adapter and its LoRA layers: the models are back to their base weights."""
    if loaded_identities(pipe):
        pipe.unload_lora_weights()


@contextmanager
def use_identity(pipe: Any, identity: Identity | None) -> Iterator[None]:
    """Run the body with exactly ``identity``'s adapter loaded (``None``, or no adapter: with none).

    ``RuntimeError`` when another adapter is found loaded on entry, after unloading them all, so the next
    job starts clean."""
    found = loaded_identities(pipe)
    if found:
        unload_identities(pipe)
        foreign = found - ({identity.name} if identity is not None else set())
        if foreign:
            raise RuntimeError(f"foreign adapters {sorted(foreign)} were loaded; unloaded them")
    if identity is None or identity.adapter is None:
        yield
        return
    try:
        load_identity(pipe, identity)
        yield
    finally:
        unload_identities(pipe)
