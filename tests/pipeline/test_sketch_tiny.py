"""/sketch end to end on the tiny tier through ``build_job_runner``: the standard painter's classes (SD 1.5
+ ControlNet, LCM-LoRA for the fast mode) around tiny random models loaded from folders in the hub's
layouts. The painted pixels are noise; this checks that every stage runs, the result keeps the drawing's
framing at 512 px or more, a seed repeats, and the fast mode leaves no LoRA switched on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings, Settings
from core.imaging.backends.standard.sketch_painter import ControlNetSketchPainter
from core.imaging.pipelines.jobio import JobInputs
from core.imaging.pipelines.sketch import STAGES, SketchPipeline, build_job_runner
from tests.pipeline import sketch_data as sd


@pytest.fixture(scope="module")
def runner() -> SketchPipeline:
    settings = Settings(models=ModelSettings(tier="tiny", device="cpu", sketch_steps=2))
    return build_job_runner(settings)


def test_the_tiny_tier_runs_every_stage(runner: SketchPipeline) -> None:
    drawing, _ = sd.hand_face(3, side=300)
    stages: list[str] = []
    inputs = JobInputs(image=drawing, options={"strength": 0.7, "fast": False, "seed": 5})
    first = runner.run_job(inputs, lambda stage, _fraction: stages.append(stage))
    assert list(dict.fromkeys(stages)) == list(STAGES)
    assert first.image.size == (512, 512) and first.image.mode == "RGB"
    assert first.edit_mask.size == first.image.size and np.asarray(first.edit_mask).min() == 255
    assert set(first.timings) == set(STAGES)
    again = runner.run_job(inputs)
    assert np.array_equal(np.asarray(again.image), np.asarray(first.image))
    other = runner.run_job(JobInputs(image=drawing, options={"strength": 0.7, "seed": 6}))
    assert not np.array_equal(np.asarray(other.image), np.asarray(first.image))


def test_the_fast_mode_uses_the_lcm_lora_only_for_its_own_call(runner: SketchPipeline) -> None:
    painter = runner.painter
    assert isinstance(painter, ControlNetSketchPainter)
    drawing, _ = sd.hand_face(4, side=300)
    slow = runner.run_job(JobInputs(image=drawing, options={"strength": 0.2, "seed": 1}))
    fast = runner.run_job(JobInputs(image=drawing, options={"strength": 0.2, "fast": True, "seed": 1}))
    assert fast.image.size == slow.image.size
    assert not np.array_equal(np.asarray(fast.image), np.asarray(slow.image))
    unet = painter.pipeline.unet
    assert "lcm" in unet.peft_config
    assert not any(module.merged or not module.disable_adapters for module in _lora_layers(unet))
    assert runner.loaded_identities() == set()


def test_the_control_image_is_white_strokes_on_black_at_a_size_the_unet_takes(runner: SketchPipeline) -> None:
    painter = runner.painter
    assert isinstance(painter, ControlNetSketchPainter)
    drawing, _ = sd.hand_face(0, side=600)
    size = painter.working_size((600, 900))
    assert size[0] == painter.resolution and size[1] % 4 == 0 and size[1] <= 1.5 * painter.resolution
    control = np.asarray(painter.control_image(drawing, (64, 64)).convert("L"))
    assert set(np.unique(control)) <= {0, 255} and 0.01 < (control == 255).mean() < 0.5


def _lora_layers(unet: object) -> list:
    from peft.tuners.lora import LoraLayer

    return [module for module in unet.modules() if isinstance(module, LoraLayer)]  # type: ignore[attr-defined]


def test_atelier_run_sketch_writes_the_face_and_refuses_an_empty_drawing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bots.cli import app

    monkeypatch.setenv("ATELIER_MODELS__DEVICE", "cpu")  # the same tiny models as the tests above
    monkeypatch.setenv("ATELIER_MODELS__SKETCH_STEPS", "2")
    drawing, blank = tmp_path / "drawing.png", tmp_path / "blank.png"
    sd.hand_face(2, side=300)[0].save(drawing)
    sd.blank(300).save(blank)
    out = tmp_path / "face.png"
    runner = CliRunner()
    command = ["run", "sketch", str(drawing), "-o", str(out), "--tier", "tiny", "--strength", "0.8"]
    done = runner.invoke(app, [*command, "--seed", "4"])
    assert done.exit_code == 0, done.output
    assert Image.open(out).size == (512, 512)
    refused = runner.invoke(
        app, ["run", "sketch", str(blank), "-o", str(tmp_path / "x.png"), "--tier", "tiny"]
    )
    assert refused.exit_code == 1 and "empty" in refused.output
    assert not (tmp_path / "x.png").exists()


def test_the_folders_in_the_hub_layouts_hold_every_file_the_standard_tier_asks_for(tmp_path: Path) -> None:
    from core.imaging.backends.tiny.sketch_models import tiny_unet, write_sketch_folders
    from core.imaging.models_download import missing_models

    write_sketch_folders(tmp_path, tiny_unet(32), conditioning_channels=(8, 16))
    models = ModelSettings(
        tier="standard",
        sketch_base=str(tmp_path / "base"),
        sketch_controlnet=str(tmp_path / "controlnet"),
        sketch_lcm_lora=str(tmp_path / "lcm"),
    )
    assert [line for line in missing_models(models) if line.startswith("sketch_painter:")] == []
