"""What the benchmark scripts share: percentiles, the GPU benchmarks' command line and their timing loop."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def gpu_arguments(description: str, photo: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu")
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument(
        "--side", type=int, default=None, help="photo's longest side (default 1024; small: 192)"
    )
    parser.add_argument("--photo", type=Path, default=photo)
    return parser


def time_stages(
    stages: dict[str, Callable[[], Any]], runs: int, device: Any, cuda: bool
) -> dict[str, tuple[float, float]]:
    """Each stage once to warm up (kernel selection, allocator growth, lazy imports), then ``runs`` timed
    runs: its median seconds and the peak GPU memory in GiB during them (0 on the CPU)."""
    import torch

    results: dict[str, tuple[float, float]] = {}
    for name, run in stages.items():
        run()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(device)
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            run()
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - began)
        peak = torch.cuda.max_memory_allocated(device) / 1024**3 if cuda else 0.0
        results[name] = (statistics.median(times), peak)
    return results


def gpu_placement(args: argparse.Namespace) -> Any:
    """Where a GPU benchmark runs (a ``Placement``), or ``None`` after saying why not: there is no CUDA
    device and this is not the CPU smoke run (``--device cpu --size small``)."""
    import torch

    from core.imaging.backends.torch_device import Placement, resolve_dtype

    smoke = args.device == "cpu" and args.size == "small"
    if not smoke and not torch.cuda.is_available():
        print("no GPU: this benchmark needs a CUDA device (smoke run: --device cpu --size small).")
        return None
    device = torch.device("cuda" if args.device == "auto" else args.device)
    return Placement(device, resolve_dtype(device))
