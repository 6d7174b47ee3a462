"""Importing ultralytics must not change how the rest of the process decodes images.

ultralytics replaces ``PIL.Image.open`` process-wide with a wrapper that, on an unidentified file, tries to
pip-install a HEIF plugin and then fails with ``ModuleNotFoundError`` offline. Intake runs in the same
process as the detector in ``atelier run`` and in tests, and must keep answering "not a photo I can read"."""

import io

import PIL.Image
import pytest

from core.config import IntakeSettings
from core.errors import UserError
from core.imaging.backends.standard.yolo import import_yolo
from core.imaging.intake import intake_image


def test_pillow_is_left_unpatched_after_importing_ultralytics() -> None:
    original = PIL.Image.open
    import_yolo()
    assert PIL.Image.open is original
    with pytest.raises(PIL.UnidentifiedImageError):
        PIL.Image.open(io.BytesIO(b"\xff\xd8\xff" + b"\x00" * 64))


def test_intake_still_refuses_a_broken_jpeg_after_importing_ultralytics() -> None:
    import_yolo()
    with pytest.raises(UserError) as refused:
        intake_image(b"\xff\xd8\xff\xe0" + b"\x00" * 200, IntakeSettings())
    assert refused.value.key in {"intake.corrupt", "intake.not_image"}
