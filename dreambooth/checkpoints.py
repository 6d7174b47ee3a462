"""Training checkpoints: what lets a LoRA training killed mid-way (worker lost, job cancelled, redelivered)
go on from its last saved step instead of starting over.

A checkpoint is one safetensors object: the LoRA weights and the AdamW moments as tensors, and the scalar
state (step, losses so far, the mixed-precision scaler, a fingerprint of the recipe and data) as JSON in the
safetensors header. No pickle anywhere: a checkpoint is data, never code. The random state needs no saving:
the training draws each step's randomness from ``(seed, step)``, so a resumed run goes on with the same
stream.

In the blob store (``core.identity.checkpoint_prefix(slug, job_id)``) every checkpoint is written under its
own key first and the ``latest.json`` pointer last; the store's ``put`` is atomic. A crash at any moment
leaves the pointer on the previous complete checkpoint (or on none), never on half of one. Older
checkpoints are deleted only after the pointer has moved past them.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core.ports import BlobStore

if TYPE_CHECKING:
    import torch

POINTER = "latest.json"
_META_KEY = "atelier_checkpoint"


@dataclass
class Checkpoint:
    """The state of a training after ``step`` optimizer steps.

    ``tensors``: flat name -> tensor (LoRA weights under ``lora/``, optimizer moments under ``adam/``);
    ``state``: JSON-serialisable scalars (losses, scaler state, fingerprint)."""

    step: int
    tensors: dict[str, torch.Tensor]
    state: dict[str, Any] = field(default_factory=dict)


class CheckpointStore(Protocol):
    def latest(self) -> Checkpoint | None:
        """The most recent complete checkpoint, or ``None`` when there is none."""
        ...

    def save(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` so that ``latest`` returns it from now on (atomically)."""
        ...

    def clear(self) -> None:
        """Forget every checkpoint (the training is finished and its adapter stored)."""
        ...


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    from safetensors.torch import save

    meta = json.dumps({"step": checkpoint.step, "state": checkpoint.state}, sort_keys=True)
    tensors = {name: tensor.detach().contiguous().cpu() for name, tensor in checkpoint.tensors.items()}
    return save(tensors, metadata={"format": "pt", _META_KEY: meta})


def decode_checkpoint(data: bytes) -> Checkpoint:
    from safetensors.torch import load

    meta = json.loads(safetensors_metadata(data).get(_META_KEY, "null"))
    if not isinstance(meta, dict) or not isinstance(meta.get("step"), int):
        raise ValueError("not an Atelier training checkpoint")
    return Checkpoint(step=meta["step"], tensors=load(data), state=dict(meta.get("state") or {}))


def safetensors_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors buffer (an 8-byte little-endian header length, then JSON)."""
    if len(data) < 8:
        raise ValueError("truncated safetensors data")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        raise ValueError("truncated safetensors header")
    header = json.loads(data[8 : 8 + length])
    metadata = header.get("__metadata__") or {}
    return {str(key): str(value) for key, value in metadata.items()}


# --- training state <-> checkpoint ------------------------------------------------------------------------
def capture_state(
    step: int,
    fingerprint: str,
    losses: list[float],
    params: list[tuple[str, torch.Tensor]],
    optimizer: Any,
    scaler: Any,
) -> Checkpoint:
    """The training's state after ``step``: LoRA weights, AdamW moments (keyed by parameter name, so a
    checkpoint does not depend on the optimizer's parameter order), losses and the scaler's state."""
    tensors = {f"lora/{name}": p.detach() for name, p in params}
    for name, p in params:
        for key, value in optimizer.state.get(p, {}).items():
            tensors[f"adam/{name}/{key}"] = value.detach()
    state = {"fingerprint": fingerprint, "losses": losses, "scaler": scaler.state_dict()}
    return Checkpoint(step=step, tensors=tensors, state=state)


def restore_state(
    checkpoint: Checkpoint | None,
    fingerprint: str,
    params: list[tuple[str, torch.Tensor]],
    optimizer: Any,
    scaler: Any,
) -> tuple[int, list[float]]:
    """Load ``checkpoint`` into the LoRA weights, the optimizer and the scaler when it is this training's;
    the step to go on from and the losses so far (0 and none otherwise)."""
    import torch

    if checkpoint is None or checkpoint.state.get("fingerprint") != fingerprint:
        return 0, []
    names = {f"lora/{name}" for name, _ in params}
    if names != {key for key in checkpoint.tensors if key.startswith("lora/")}:
        return 0, []
    with torch.no_grad():
        for name, p in params:
            p.copy_(checkpoint.tensors[f"lora/{name}"])
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for index, (name, _) in enumerate(params):
        prefix = f"adam/{name}/"
        found = {key[len(prefix) :]: t for key, t in checkpoint.tensors.items() if key.startswith(prefix)}
        if found:
            moments[index] = found
    optimizer.load_state_dict({"state": moments, "param_groups": optimizer.state_dict()["param_groups"]})
    if checkpoint.state.get("scaler"):
        scaler.load_state_dict(checkpoint.state["scaler"])
    return checkpoint.step, [float(x) for x in checkpoint.state.get("losses", [])][: checkpoint.step]


# --- stores -----------------------------------------------------------------------------------------------
class BlobCheckpointStore:
    """``CheckpointStore`` over a ``BlobStore`` folder: ``step-000100.safetensors`` + ``latest.json``."""

    def __init__(self, blobs: BlobStore, prefix: str) -> None:
        if not prefix.endswith("/"):
            raise ValueError(f"a checkpoint prefix is a folder ending in '/': {prefix!r}")
        self._blobs = blobs
        self._prefix = prefix

    def latest(self) -> Checkpoint | None:
        pointer = self._prefix + POINTER
        if not self._blobs.exists(pointer):
            return None
        key = json.loads(self._blobs.get(pointer))["key"]
        if not isinstance(key, str) or not key.startswith(self._prefix):
            raise ValueError(f"checkpoint pointer {pointer!r} leaves its folder")
        return decode_checkpoint(self._blobs.get(key))

    def save(self, checkpoint: Checkpoint) -> None:
        key = f"{self._prefix}step-{checkpoint.step:06d}.safetensors"
        self._blobs.put(key, encode_checkpoint(checkpoint))
        self._blobs.put(self._prefix + POINTER, json.dumps({"key": key, "step": checkpoint.step}).encode())
        for old in self._blobs.keys(self._prefix):
            if old not in (key, self._prefix + POINTER):
                self._blobs.delete(old)

    def clear(self) -> None:
        self._blobs.delete_prefix(self._prefix)


class MemoryCheckpointStore:
    """``CheckpointStore`` that keeps the latest checkpoint's bytes in memory (benchmarks, one-off runs)."""

    def __init__(self) -> None:
        self._data: bytes | None = None
        self.saved_steps: list[int] = []

    def latest(self) -> Checkpoint | None:
        return None if self._data is None else decode_checkpoint(self._data)

    def save(self, checkpoint: Checkpoint) -> None:
        self._data = encode_checkpoint(checkpoint)
        self.saved_steps.append(checkpoint.step)

    def clear(self) -> None:
        self._data = None
