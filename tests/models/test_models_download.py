"""Weights pre-fetch and presence checks for the standard tier, without the network.

Local paths are checked in place; hub ids are looked up in a Hugging Face cache folder laid out the way
huggingface_hub writes it (refs/main -> snapshots/<commit>/...).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ModelSettings
from core.imaging.backends.standard import face_parsing, ip_adapter, paint_by_example, sd_inpaint, yolo
from core.imaging.backends.standard.weights import WeightsMissing
from core.imaging.models_download import STANDARD_BACKENDS, download_models, missing_models

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TRANSFORMERS_FILES = ["config.json", "preprocessor_config.json", "model.safetensors"]
SD_FILES = [
    "model_index.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.fp16.safetensors",
    "text_encoder/config.json",
    "text_encoder/model.fp16.safetensors",
    "tokenizer/vocab.json",
    "tokenizer/merges.txt",
    "scheduler/scheduler_config.json",
]
# Fantasy-Studio/Paint-by-Example's main branch: fp32 pickles only.
PBE_FILES = [
    "model_index.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.bin",
    "vae/config.json",
    "vae/diffusion_pytorch_model.bin",
    "image_encoder/config.json",
    "image_encoder/pytorch_model.bin",
    "scheduler/scheduler_config.json",
    "feature_extractor/preprocessor_config.json",
]
# h94/IP-Adapter: the SD 1.5 adapters and the ViT-H/14 image encoder they share.
IP_ADAPTER_FILES = [
    "models/ip-adapter-plus_sd15.safetensors",
    "models/image_encoder/config.json",
    "models/image_encoder/model.safetensors",
]

# /sketch: the SD 1.5 UNet and scheduler, ControlNet scribble, LCM-LoRA.
SKETCH_BASE_FILES = [
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "scheduler/scheduler_config.json",
]
CONTROLNET_FILES = ["config.json", "diffusion_pytorch_model.safetensors"]
LCM_FILES = ["pytorch_lora_weights.safetensors"]


def _touch(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    return root


def _local_models(root: Path) -> ModelSettings:
    return ModelSettings(
        tier="standard",
        detector=str(_touch(root, ["yolo/face.pt"]) / "yolo" / "face.pt"),
        mask_classifier=str(_touch(root / "classifier", TRANSFORMERS_FILES)),
        segmenter=str(_touch(root / "sam", TRANSFORMERS_FILES)),
        upscaler=str(_touch(root / "swin2sr", TRANSFORMERS_FILES)),
        inpainter=str(_touch(root / "sd", SD_FILES)),
        face_parser=str(_touch(root / "parser", TRANSFORMERS_FILES)),
        exemplar_inpainter=str(_touch(root / "pbe", PBE_FILES)),
        ip_adapter=str(_touch(root / "ip", IP_ADAPTER_FILES)),
        sketch_base=str(_touch(root / "sd15", SKETCH_BASE_FILES)),
        sketch_controlnet=str(_touch(root / "scribble", CONTROLNET_FILES)),
        sketch_lcm_lora=str(_touch(root / "lcm", LCM_FILES)),
    )


def test_missing_local_paths_are_reported_per_step(tmp_path: Path) -> None:
    models = ModelSettings(
        tier="standard",
        detector=str(tmp_path / "nope" / "face.pt"),
        mask_classifier=str(tmp_path / "nope" / "classifier"),
        segmenter=str(tmp_path / "nope" / "sam"),
        upscaler=str(tmp_path / "nope" / "swin2sr"),
        inpainter=str(tmp_path / "nope" / "sd"),
        face_parser=str(tmp_path / "nope" / "parser"),
        exemplar_inpainter=str(tmp_path / "nope" / "pbe"),
        ip_adapter=str(tmp_path / "nope" / "ip"),
        sketch_base=str(tmp_path / "nope" / "sd15"),
        sketch_controlnet=str(tmp_path / "nope" / "scribble"),
        sketch_lcm_lora=str(tmp_path / "nope" / "lcm"),
    )
    missing = missing_models(models)
    # One line per model: the sketch painter loads three.
    assert [line.split(":")[0] for line in missing] == [
        *STANDARD_BACKENDS,
        "sketch_painter",
        "sketch_painter",
    ]
    assert missing[-3:] == [
        f"sketch_painter: {tmp_path / 'nope' / name}" for name in ("sd15", "scribble", "lcm")
    ]
    assert str(tmp_path / "nope" / "sd") in missing[list(STANDARD_BACKENDS).index("inpainter")]
    with pytest.raises(RuntimeError, match="^detector: could not fetch"):
        download_models(models)


def test_present_local_dirs_are_checked_not_copied(tmp_path: Path) -> None:
    models = _local_models(tmp_path)
    assert missing_models(models) == []
    lines: list[str] = []
    paths = download_models(models, progress=lines.append)
    assert paths["detector"] == tmp_path / "yolo" / "face.pt"
    assert paths["inpainter"] == tmp_path / "sd"
    assert [paths[key] for key in ("sketch_painter", "sketch_painter.2", "sketch_painter.3")] == [
        tmp_path / "sd15",
        tmp_path / "scribble",
        tmp_path / "lcm",
    ]
    assert any(line.startswith("segmenter: checking") for line in lines)


def test_a_local_dir_missing_one_file_is_missing(tmp_path: Path) -> None:
    models = _local_models(tmp_path)
    (tmp_path / "sd" / "unet" / "diffusion_pytorch_model.fp16.safetensors").unlink()
    assert missing_models(models) == [f"inpainter: {tmp_path / 'sd'}"]
    # Plain fp32 safetensors (a local save_pretrained export) are an accepted alternative.
    _touch(tmp_path / "sd", ["unet/diffusion_pytorch_model.safetensors"])
    assert missing_models(models) == []


def _hub_cache(cache: Path, repo: str, files: list[str]) -> Path:
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(COMMIT)
    return _touch(folder / "snapshots" / COMMIT, files)


def test_hub_ids_are_looked_up_in_the_cache_only(tmp_path: Path) -> None:
    models = ModelSettings(tier="standard", cache_dir=tmp_path)
    # An empty cache: everything is missing, and finding that out needs no network.
    assert len(missing_models(models)) == len(STANDARD_BACKENDS) + 2  # the sketch painter's three models
    yolo_snapshot = _hub_cache(tmp_path, models.detector, [models.detector_file])
    sd_snapshot = _hub_cache(tmp_path, models.inpainter, SD_FILES)
    assert yolo.weights(models).is_present() and sd_inpaint.weights(models).is_present()
    # The snapshot folder itself, found from a nested file (unet/config.json is two levels deep).
    assert sd_inpaint.weights(models).locate() == sd_snapshot
    assert yolo.weights_file(yolo.weights(models).locate(), models) == yolo_snapshot / "model.pt"
    assert [line.split(":")[0] for line in missing_models(models)] == [
        "mask_classifier",
        "segmenter",
        "upscaler",
        "portrait_parser",
        "exemplar_painter",
        "ip_adapter",
        "sketch_painter",
        "sketch_painter",
        "sketch_painter",
    ]


def test_suit_weights_are_found_in_the_hub_layouts(tmp_path: Path) -> None:
    models = ModelSettings(tier="standard", cache_dir=tmp_path)
    parser_snapshot = _hub_cache(tmp_path, models.face_parser, TRANSFORMERS_FILES)
    pbe_snapshot = _hub_cache(tmp_path, models.exemplar_inpainter, PBE_FILES)
    assert face_parsing.weights(models).locate() == parser_snapshot
    assert paint_by_example.weights(models).locate() == pbe_snapshot


def test_tryon_adapter_weights_are_found_in_the_hub_layout(tmp_path: Path) -> None:
    models = ModelSettings(tier="standard", cache_dir=tmp_path)
    snapshot = _hub_cache(tmp_path, models.ip_adapter, IP_ADAPTER_FILES[:2])
    assert ip_adapter.weights(models).missing_files() == ["models/image_encoder/model.safetensors"]
    # A pickled encoder (an older local export) will do too.
    _touch(snapshot, ["models/image_encoder/pytorch_model.bin"])
    assert ip_adapter.weights(models).locate() == snapshot
    # A bare encoder folder name is looked for beside the weight file, as diffusers does.
    beside = models.model_copy(update={"ip_adapter_encoder": "image_encoder"})
    assert ip_adapter.weights(beside).is_present()


def test_safety_checker_weights_are_required_only_when_enabled(tmp_path: Path) -> None:
    models = _local_models(tmp_path)
    models.safety_checker = True
    assert missing_models(models) == [f"inpainter: {tmp_path / 'sd'}"]


def test_a_factory_without_cached_weights_or_network_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    models = ModelSettings(tier="standard", device="cpu", cache_dir=tmp_path)
    with pytest.raises(WeightsMissing, match="atelier models download"):
        yolo.build_detector(models)
