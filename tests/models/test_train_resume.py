"""Identity LoRA training on the tiny SD inpainting pipeline (CPU): it learns, it leaves a shared UNet as it
found it, it checkpoints without pickle, and a stopped training resumes where it stopped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load

from core.blobs import LocalBlobStore
from core.identity import checkpoint_prefix, class_images_prefix
from core.imaging.backends.offline.detector import MediaPipeFaceDetector
from core.imaging.backends.offline.face_regions import CHIN, LEFT_EYE_OUTER, RIGHT_EYE_OUTER
from core.imaging.backends.tiny.models import tiny_sd_inpaint_pipeline
from dreambooth.checkpoints import BlobCheckpointStore, MemoryCheckpointStore, safetensors_metadata
from dreambooth.dataset import FaceCropDataset, class_images, lower_face_mask
from dreambooth.training import LoraTrainConfig, TrainResult, train_identity

TOKEN = "zqvxkjwq"
CONFIG = LoraTrainConfig(rank=4, alpha=4, steps=12, learning_rate=1e-2, resolution=64, batch_size=2)


def face_like(index: int) -> Image.Image:
    """A 64 px drawing of a face (skin oval, eyes, nose, mouth) on a plain background, seeded."""
    rng = np.random.default_rng(index)
    image = Image.new("RGB", (64, 64), tuple(int(c) for c in rng.integers(60, 200, 3)))
    draw = ImageDraw.Draw(image)
    x, y = 32 + int(rng.integers(-3, 4)), 34 + int(rng.integers(-3, 4))
    draw.ellipse((x - 16, y - 22, x + 16, y + 22), fill=(224, 180, 150))
    draw.ellipse((x - 10, y - 8, x - 5, y - 4), fill=(40, 30, 30))
    draw.ellipse((x + 5, y - 8, x + 10, y - 4), fill=(40, 30, 30))
    draw.polygon([(x, y - 3), (x - 3, y + 5), (x + 3, y + 5)], fill=(200, 150, 120))
    draw.rectangle((x - 7, y + 10, x + 7, y + 13), fill=(170, 60, 60))
    return image


FACES = [face_like(i) for i in range(4)]


class Cancelled(Exception):
    pass


@pytest.fixture(scope="module")
def pipe() -> object:
    return tiny_sd_inpaint_pipeline()


def _train(pipe: object, config: LoraTrainConfig, store: object, stop_at: int | None = None) -> TrainResult:
    steps: list[int] = []

    def progress(step: int, total: int, loss: float) -> None:
        assert total == config.steps and np.isfinite(loss)
        steps.append(step)
        if step == stop_at:
            raise Cancelled

    result = train_identity(pipe, FACES, [None] * len(FACES), TOKEN, config, store, progress)  # type: ignore[arg-type]
    assert steps == list(range(result.resumed_from + 1, config.steps + 1))
    return result


def test_training_lowers_the_loss_and_leaves_the_unet_as_it_was(pipe: object) -> None:
    unet = pipe.unet  # type: ignore[attr-defined]
    unet.eval()
    before = {name: value.clone() for name, value in unet.state_dict().items()}
    grads = {name: p.requires_grad for name, p in unet.named_parameters()}

    result = _train(pipe, LoraTrainConfig(**{**CONFIG.__dict__, "steps": 20}), MemoryCheckpointStore())

    losses = result.losses
    assert len(losses) == 20 and result.resumed_from == 0
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.03
    # A shared warm UNet comes back without LoRA layers, with the same weights, flags and mode.
    assert not getattr(unet, "peft_config", None)
    after = unet.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[name], value) for name, value in before.items())
    assert {name: p.requires_grad for name, p in unet.named_parameters()} == grads
    assert not unet.training
    # The adapter is diffusers-format UNet LoRA safetensors.
    tensors = load(result.adapter)
    assert tensors and all(key.startswith("unet.") and ".lora." in key for key in tensors)
    assert {tuple(t.shape) for key, t in tensors.items() if "lora.down" in key} >= {(4, 32)}


def test_a_stopped_training_resumes_from_its_checkpoint_exactly(pipe: object, tmp_path: Path) -> None:
    uninterrupted = _train(pipe, CONFIG, MemoryCheckpointStore())

    blobs = LocalBlobStore(tmp_path)
    prefix = checkpoint_prefix("u" + "0" * 24, "job-1")
    config = LoraTrainConfig(**{**CONFIG.__dict__, "checkpoint_every": 5})
    with pytest.raises(Cancelled):
        _train(pipe, config, BlobCheckpointStore(blobs, prefix), stop_at=7)
    assert not getattr(pipe.unet, "peft_config", None)  # type: ignore[attr-defined]
    # Only the latest checkpoint is kept; it is safetensors (no pickle), its scalars in the header.
    assert blobs.keys(prefix) == [prefix + "latest.json", prefix + "step-000005.safetensors"]
    data = blobs.get(prefix + "step-000005.safetensors")
    assert '"step": 5' in safetensors_metadata(data)["atelier_checkpoint"]
    assert any(key.startswith("adam/") and key.endswith("exp_avg_sq") for key in load(data))

    resumed = _train(pipe, config, BlobCheckpointStore(blobs, prefix))

    assert resumed.resumed_from == 5
    assert resumed.losses == uninterrupted.losses  # the step count continued; the same random stream
    assert resumed.adapter == uninterrupted.adapter
    assert blobs.keys(prefix) == [prefix + "latest.json", prefix + "step-000012.safetensors"]
    # A finished training's checkpoint gives the adapter back without training again.
    again = _train(pipe, config, BlobCheckpointStore(blobs, prefix))
    assert again.resumed_from == 12 and again.adapter == uninterrupted.adapter


def test_a_checkpoint_of_another_recipe_is_not_resumed(pipe: object) -> None:
    store = MemoryCheckpointStore()
    short = LoraTrainConfig(**{**CONFIG.__dict__, "steps": 2})
    _train(pipe, short, store)
    assert _train(pipe, short, store).resumed_from == 2
    assert _train(pipe, LoraTrainConfig(**{**short.__dict__, "seed": 1}), store).resumed_from == 0


def test_prior_preservation_generates_class_images_once(pipe: object, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    made = class_images(pipe, blobs, "tiny-sd-inpaint", 2, 64, steps=2)
    assert [image.size for image in made] == [(64, 64)] * 2
    assert len(blobs.keys(class_images_prefix("tiny-sd-inpaint"))) == 2
    cached = class_images(None, blobs, "tiny-sd-inpaint", 2, 64, steps=2)  # no pipeline needed now
    assert [np.asarray(a).tobytes() for a in cached] == [np.asarray(b).tobytes() for b in made]

    config = LoraTrainConfig(**{**CONFIG.__dict__, "steps": 2, "prior_preservation": True})
    with pytest.raises(ValueError, match="class images"):
        train_identity(pipe, FACES, [None] * 4, TOKEN, config, MemoryCheckpointStore(), lambda *_: None)
    given = train_identity(
        pipe, FACES, [None] * 4, TOKEN, config, MemoryCheckpointStore(), lambda *_: None, class_images=cached
    )
    config = LoraTrainConfig(**{**config.__dict__, "class_images": 2})
    from_cache = train_identity(
        pipe,
        FACES,
        [None] * 4,
        TOKEN,
        config,
        MemoryCheckpointStore(),
        lambda *_: None,
        blobs=blobs,
        base_model="tiny-sd-inpaint",
    )
    assert len(given.losses) == 2 and from_cache.losses == given.losses
    assert len(blobs.keys(class_images_prefix("tiny-sd-inpaint"))) == 2  # reused, none generated


def test_samples_carry_lower_face_masks_from_the_landmarks(shared_data: Path) -> None:
    photo = Image.open(shared_data / "faces" / "without_mask" / "nm_001.jpg").convert("RGB")
    faces = MediaPipeFaceDetector().detect(photo)
    assert faces and faces[0].landmarks is not None
    face = faces[0].box
    side = max(face.width, face.height) * 1.4
    cx, cy = (face.x0 + face.x1) / 2, (face.y0 + face.y1) / 2
    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    crop = photo.crop(box).resize((64, 64))
    points = (faces[0].landmarks[:, :2] - np.array(box[:2])) * 64 / side

    mask = lower_face_mask(64, points, np.random.default_rng(0))
    x, y = np.clip(np.round(points).astype(int), 0, 63).T
    assert mask[y[13], x[13]] == 1 and mask[y[CHIN] - 1, x[CHIN]] == 1  # mouth and chin
    assert (
        mask[y[LEFT_EYE_OUTER], x[LEFT_EYE_OUTER]] == 0 and mask[y[RIGHT_EYE_OUTER], x[RIGHT_EYE_OUTER]] == 0
    )

    dataset = FaceCropDataset([crop], [points], 64, f"a photo of {TOKEN} person", tiny_sd_inpaint_tokenizer())
    batch = dataset.batch([0, 0, 0], np.random.default_rng(1))
    assert batch.pixel_values.shape == (3, 3, 64, 64) and batch.masks.shape == (3, 1, 64, 64)
    assert batch.pixel_values.min() >= -1 and batch.pixel_values.max() <= 1
    assert torch.all(batch.masked_pixel_values[batch.masks.expand(-1, 3, -1, -1) > 0.5] == 0)
    assert dataset.input_ids.shape == (1, 77)


def tiny_sd_inpaint_tokenizer() -> object:
    from core.imaging.backends.tiny.clip_vocab import clip_tokenizer

    return clip_tokenizer()


def test_training_on_the_shared_inpainter_holds_its_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The UNet is shared by every command in a worker; the try-on painter changes it (its IP-Adapter layers)
    under the inpainter's lock, from the warm-up thread too. Training must hold that lock, or a try-on
    pipeline loading meanwhile breaks its forward passes (seen as a failed training in the end-to-end run)."""
    import threading

    import dreambooth.training as training
    from core.config import TrainSettings

    class Inpainter:
        resolution = 64
        pipeline = object()
        lock = threading.RLock()

    held_elsewhere: list[bool] = []

    def fake_train(*_args: object, **_kwargs: object) -> str:
        other = threading.Thread(target=lambda: held_elsewhere.append(not Inpainter.lock.acquire(timeout=0)))
        other.start()
        other.join()
        return "trained"

    monkeypatch.setattr(training, "train_identity", fake_train)
    result, _ = training.train_on_inpainter(
        Inpainter(), [], [], "tok", TrainSettings(), MemoryCheckpointStore(), lambda *_: None
    )
    assert result == "trained" and held_elsewhere == [True]
    assert Inpainter.lock.acquire(timeout=0)  # and released afterwards
    Inpainter.lock.release()
