"""Identity adapters in a warm inpainting pipeline (tiny tier, CPU): a trained adapter reloads and changes
the output, one user's adapter never leaks into another user's job, and adapters are parsed from
safetensors bytes only."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load, save

from core.identity import identity_token, owner_slug
from core.imaging.backends.base import Identity, InpaintRequest
from core.imaging.backends.standard.identity_lora import (
    adapter_state_dict,
    load_identity,
    loaded_identities,
    use_identity,
)
from core.imaging.backends.tiny import TinyStableDiffusionInpainter
from core.imaging.backends.tiny.models import tiny_sd_inpaint_pipeline
from core.imaging.backends.torch_device import resolve_placement
from dreambooth.checkpoints import MemoryCheckpointStore
from dreambooth.training import LoraTrainConfig, train_identity

SLUG_A, SLUG_B = owner_slug("telegram", "1001"), owner_slug("telegram", "2002")


def _face(index: int) -> Image.Image:
    rng = np.random.default_rng(index)
    image = Image.new("RGB", (64, 64), tuple(int(c) for c in rng.integers(60, 200, 3)))
    draw = ImageDraw.Draw(image)
    x, y = 32 + int(rng.integers(-3, 4)), 34 + int(rng.integers(-3, 4))
    draw.ellipse((x - 16, y - 22, x + 16, y + 22), fill=tuple(int(c) for c in rng.integers(120, 240, 3)))
    draw.ellipse((x - 10, y - 8, x - 5, y - 4), fill=(40, 30, 30))
    draw.ellipse((x + 5, y - 8, x + 10, y - 4), fill=(40, 30, 30))
    draw.rectangle((x - 7, y + 10, x + 7, y + 13), fill=(170, 60, 60))
    return image


def _identity(slug: str, seed: int) -> Identity:
    token = identity_token(slug)
    config = LoraTrainConfig(rank=4, alpha=4, steps=6, learning_rate=2e-2, resolution=64, seed=seed)
    faces = [_face(seed * 10 + i) for i in range(3)]
    result = train_identity(
        tiny_sd_inpaint_pipeline(), faces, [None] * 3, token, config, MemoryCheckpointStore(), lambda *_: None
    )
    return Identity(name=slug, token=token, adapter=result.adapter)


@pytest.fixture(scope="module")
def user_a() -> Identity:
    return _identity(SLUG_A, 1)


@pytest.fixture(scope="module")
def user_b() -> Identity:
    return _identity(SLUG_B, 2)


@pytest.fixture(scope="module")
def square() -> tuple[Image.Image, Image.Image]:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 32, 48, 60))
    return _face(99), mask


def _inpainter() -> TinyStableDiffusionInpainter:
    return TinyStableDiffusionInpainter(tiny_sd_inpaint_pipeline(), resolve_placement("cpu"))


def _run(
    inpainter: TinyStableDiffusionInpainter,
    square: tuple[Image.Image, Image.Image],
    identity: Identity | None,
) -> tuple[np.ndarray, list[set[str]]]:
    seen: list[set[str]] = []
    request = InpaintRequest(steps=2, seed=5, prompt="a face", identity=identity)
    out = inpainter.inpaint(*square, request, lambda _f: seen.append(inpainter.loaded_identities()))
    return np.asarray(out), seen


def test_a_trained_adapter_reloads_into_a_fresh_pipeline_and_changes_its_output(
    user_a: Identity, square: tuple[Image.Image, Image.Image]
) -> None:
    pipe = tiny_sd_inpaint_pipeline()

    def paint() -> np.ndarray:
        out = pipe(
            prompt="a face",
            image=square[0],
            mask_image=square[1],
            num_inference_steps=2,
            generator=torch.Generator().manual_seed(5),
            output_type="np",
        )
        return np.asarray(out.images[0])

    plain = paint()
    with use_identity(pipe, user_a):
        assert loaded_identities(pipe) == {SLUG_A}
        adapted = paint()
    assert loaded_identities(pipe) == set()
    assert np.abs(adapted - plain).max() > 1e-3
    assert np.array_equal(paint(), plain)  # unloading restores the base model exactly
    # The bytes are a plain diffusers LoRA file: diffusers' own loader takes them as they are.
    pipe.load_lora_weights(load(user_a.adapter or b""), adapter_name="diffusers")
    assert np.array_equal(paint(), adapted)
    pipe.unload_lora_weights()


def test_one_users_adapter_never_reaches_another_users_job(
    user_a: Identity, user_b: Identity, square: tuple[Image.Image, Image.Image]
) -> None:
    warm = _inpainter()
    b_plain = Identity(name=SLUG_B, token=user_b.token)  # B before training: no adapter

    out_a, seen_a = _run(warm, square, user_a)
    out_b_plain, seen_b_plain = _run(warm, square, b_plain)
    out_b, seen_b = _run(warm, square, user_b)

    assert seen_a and all(names == {SLUG_A} for names in seen_a)
    assert seen_b_plain and all(names == set() for names in seen_b_plain)
    assert seen_b and all(names == {SLUG_B} for names in seen_b)
    assert warm.loaded_identities() == set()
    # Each job's pixels are those of a pipeline that never saw another user's adapter.
    assert np.array_equal(out_b_plain, _run(_inpainter(), square, b_plain)[0])
    assert np.array_equal(out_b, _run(_inpainter(), square, user_b)[0])
    assert not np.array_equal(out_a, out_b_plain) and not np.array_equal(out_a, out_b)


def test_an_identity_puts_its_token_before_the_prompt(
    user_a: Identity, square: tuple[Image.Image, Image.Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = _inpainter()
    prompts: list[str] = []
    call = type(warm.pipeline).__call__

    def spy(pipe: object, *args: object, **kwargs: object) -> object:
        prompts.append(str(kwargs["prompt"]))
        return call(pipe, *args, **kwargs)

    monkeypatch.setattr(type(warm.pipeline), "__call__", spy)
    _run(warm, square, user_a)
    _run(warm, square, Identity(name=SLUG_B, token="nothing"))
    assert prompts == [f"a photo of {user_a.token} person, a face", "a face"]


def test_use_identity_refuses_to_run_over_a_foreign_adapter(user_a: Identity, user_b: Identity) -> None:
    pipe = tiny_sd_inpaint_pipeline()
    for job in (user_b, None):
        load_identity(pipe, user_a)  # left behind by a bug
        with pytest.raises(RuntimeError, match=SLUG_A):
            with use_identity(pipe, job):
                pytest.fail("ran with a foreign adapter loaded")
        assert loaded_identities(pipe) == set()  # cleaned up for the next job

    load_identity(pipe, user_a)  # its own adapter is simply reloaded
    with use_identity(pipe, user_a):
        assert loaded_identities(pipe) == {SLUG_A}
    assert loaded_identities(pipe) == set()


def test_the_adapter_is_unloaded_when_the_job_fails(user_a: Identity) -> None:
    pipe = tiny_sd_inpaint_pipeline()
    with pytest.raises(KeyError):
        with use_identity(pipe, user_a):
            raise KeyError("boom")
    assert loaded_identities(pipe) == set()


def test_adapters_are_read_from_safetensors_bytes_only(
    user_a: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    tensors = load(user_a.adapter or b"")
    pickled = io.BytesIO()
    torch.save(tensors, pickled)

    def refuse(*_args: object, **_kwargs: object) -> Iterator[None]:
        raise AssertionError("torch.load called on an adapter")

    monkeypatch.setattr(torch, "load", refuse)
    for bad in (pickled.getvalue(), b"/etc/passwd", save({"text_encoder.x.lora.down.weight": torch.ones(2)})):
        with pytest.raises(ValueError):
            adapter_state_dict(bad)
        with pytest.raises(ValueError):
            with use_identity(tiny_sd_inpaint_pipeline(), Identity(name=SLUG_A, token="t", adapter=bad)):
                pass
    assert adapter_state_dict(user_a.adapter or b"").keys() == tensors.keys()
