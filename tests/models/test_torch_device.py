"""Device and dtype resolution for the torch backends."""

from __future__ import annotations

import pytest
import torch

from core.imaging.backends.torch_device import resolve_device, resolve_dtype, resolve_placement


def test_auto_follows_cuda_availability() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_cpu_runs_fp32_and_cuda_runs_fp16() -> None:
    placement = resolve_placement("cpu")
    assert (placement.device, placement.dtype, placement.is_cuda) == (
        torch.device("cpu"),
        torch.float32,
        False,
    )
    assert resolve_dtype(torch.device("cuda")) == torch.float16


def test_an_explicit_cuda_device_is_never_silently_replaced() -> None:
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(RuntimeError, match="no CUDA device"):
            resolve_device("cuda")
