"""The print sheet: as many copies of an ID photo as fit on a 4x6 in / 10x15 cm paper, with cut guides, and
PNG encoding that records the physical size (pHYs) so a print shop prints them at the right size."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw

from core.imaging.idphoto.catalog import MM_PER_INCH, Paper

# Space between copies and around the grid; the cut guides run through the gaps.
GAP_MM = 3.0
MARGIN_MM = 4.0
GUIDE_RGB = (150, 150, 150)
GUIDE_MM = 2.5  # length of the crop marks beyond each corner


def print_sheet(photo: Image.Image, paper: Paper, dpi: int) -> Image.Image:
    """Copies of ``photo`` (already at ``dpi``) in a centred grid, portrait or landscape, whichever holds
    more; crop marks at every cut line."""
    px = dpi / MM_PER_INCH
    layouts = []
    for landscape in (False, True):
        pw, ph = (paper.height_mm, paper.width_mm) if landscape else (paper.width_mm, paper.height_mm)
        layouts.append((_fits(pw, photo.width / px), _fits(ph, photo.height / px), pw, ph))
    cols, rows, pw, ph = max(layouts, key=lambda layout: layout[0] * layout[1])
    if cols * rows == 0:
        raise ValueError(f"a {photo.size} photo does not fit on {paper.id}")
    sheet = Image.new("RGB", (round(pw * px), round(ph * px)), (255, 255, 255))
    gap = round(GAP_MM * px)
    grid_w = cols * photo.width + (cols - 1) * gap
    grid_h = rows * photo.height + (rows - 1) * gap
    x0, y0 = (sheet.width - grid_w) // 2, (sheet.height - grid_h) // 2
    draw = ImageDraw.Draw(sheet)
    mark, line = round(GUIDE_MM * px), max(1, round(dpi / 300))
    for row in range(rows):
        for col in range(cols):
            x, y = x0 + col * (photo.width + gap), y0 + row * (photo.height + gap)
            sheet.paste(photo, (x, y))
            _crop_marks(draw, (x, y, x + photo.width, y + photo.height), min(mark, gap // 2 or 1), line)
    return sheet


def encode_png_at(image: Image.Image, dpi: int) -> bytes:
    """PNG with its resolution recorded, so the file opens at its physical size."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(dpi, dpi), compress_level=6)
    return buffer.getvalue()


def _fits(paper_mm: float, photo_mm: float) -> int:
    usable = paper_mm - 2 * MARGIN_MM + GAP_MM
    return max(0, math.floor(usable / (photo_mm + GAP_MM)))


def _crop_marks(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], length: int, width: int) -> None:
    """Short lines just outside each corner, along the cut lines (never over the photo)."""
    x0, y0, x1, y1 = box
    for x in (x0 - 1, x1):
        draw.line([(x, y0 - length - 1), (x, y0 - 2)], fill=GUIDE_RGB, width=width)
        draw.line([(x, y1 + 1), (x, y1 + length)], fill=GUIDE_RGB, width=width)
    for y in (y0 - 1, y1):
        draw.line([(x0 - length - 1, y), (x0 - 2, y)], fill=GUIDE_RGB, width=width)
        draw.line([(x1 + 1, y), (x1 + length, y)], fill=GUIDE_RGB, width=width)
