"""Where torch models run: the device named in ``ModelSettings.device`` and the matching dtype.

torch is imported inside the functions, so importing this module stays cheap for the bot process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU. An explicit CUDA device that is not there is an
    error: a GPU worker silently running on the CPU would be 50x slower and look healthy."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"model device {name!r} requested but no CUDA device is available")
    return device


def resolve_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA (half the memory, tensor cores); fp32 on the CPU, where fp16 kernels are slow."""
    import torch

    return torch.float16 if device.type == "cuda" else torch.float32


def resolve_placement(name: str = "auto") -> Placement:
    device = resolve_device(name)
    return Placement(device=device, dtype=resolve_dtype(device))
