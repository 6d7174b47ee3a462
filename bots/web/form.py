"""Reading ``POST /sketch``'s multipart body with a cap per part: the drawing no larger than the photo intake
takes (``IntakeSettings.max_bytes``), each text field a few kilobytes. Nothing is written to disk."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web

from core.errors import UserError
from core.imaging.intake import check_declared_size

DRAWING = "drawing"
TEXT_FIELDS = ("strength", "init_data", "token", "fast", "request_id")
# initData carries the user's JSON and a signature: a few hundred bytes; a link token less.
MAX_FIELD_BYTES = 8 * 1024
# The multipart boundaries and headers around the drawing and the text fields.
FORM_OVERHEAD = len(TEXT_FIELDS) * MAX_FIELD_BYTES + 16 * 1024


class BadForm(Exception):
    """Not the form the canvas sends (a field missing, twice, or too long)."""


@dataclass
class SketchForm:
    drawing: bytes = b""
    fields: dict[str, str] = field(default_factory=dict)


async def read_sketch_form(request: web.Request, max_drawing_bytes: int) -> SketchForm:
    """The form's drawing and text fields; ``UserError("intake.too_large")`` as soon as the body or the
    drawing is larger than allowed (before the rest is read), ``BadForm`` for anything else amiss."""
    check_declared_size(request.content_length, max_drawing_bytes + FORM_OVERHEAD)
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError) as error:  # not multipart at all
        raise BadForm(str(error)) from error
    form = SketchForm()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            raise BadForm("a nested or nameless part")
        if part.name == DRAWING and not form.drawing:
            form.drawing = await _read_capped(part, max_drawing_bytes)
        elif part.name in TEXT_FIELDS and part.name not in form.fields:
            try:
                form.fields[part.name] = (await _read_capped(part, MAX_FIELD_BYTES)).decode()
            except (UserError, UnicodeDecodeError) as error:
                raise BadForm(f"field {part.name}") from error
        else:
            raise BadForm(f"unexpected part {part.name!r}")
    if not form.drawing:
        raise BadForm("no drawing")
    return form


async def _read_capped(part: BodyPartReader, max_bytes: int) -> bytes:
    buffer = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        buffer += chunk
        check_declared_size(len(buffer), max_bytes)
    return bytes(buffer)
