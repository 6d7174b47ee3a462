"""Line drawings: cleaning what a user drew (a canvas, or a phone photo of paper) and drawing lines from a
picture (the edge extractor the offline /sketch bank, its tests and benchmarks draw faces with).

A cleaned drawing is a sheet of white paper with black strokes: the paper's outline, when the photo shows
one, is warped to an upright rectangle (which also takes out the camera's skew and perspective), the
uneven light of a phone photo is divided out, and what is clearly darker than the paper around it is ink.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Cleaning works on a copy whose longer side is at most this; strokes need no more.
WORK_MAX_SIDE = 1024
# The paper must cover this share of the photo to be taken as the sheet (smaller: a picture on the paper).
MIN_PAPER_SHARE = 0.25
# Light is flattened by dividing by the paper's own brightness, estimated by closing the image (strokes
# removed) with a kernel of this share of the longer side: wider than any stroke, narrower than a shadow.
LIGHT_KERNEL = 0.04
# Ink: darker than this share of the paper's brightness around it. Pencil on paper comes out at 0.55-0.8.
INK_LEVEL = 0.8
# Paper: at least this share of the paper's brightness around it. After the light is flattened, a line
# drawing (on a canvas, or a phone photo of paper) leaves at least 89 % of its pixels paper, the shared
# photos of faces at most 80 %.
PAPER_LEVEL = 0.92
# Specks smaller than this share of the longer side (squared) are dust, not strokes.
SPECK = 1 / 400


@dataclass(frozen=True)
class CleanDrawing:
    """The drawing on its sheet, at most ``WORK_MAX_SIDE`` a side."""

    ink: np.ndarray  # (H, W) bool, True = stroke
    # The share of the sheet's pixels darker than paper (see PAPER_LEVEL): high for a photo, low for line art.
    off_paper: float
    # The strokes' bounding box (x0, y0, x1, y1) in the sheet's pixels; None for an empty sheet.
    strokes: tuple[int, int, int, int] | None
    paper_found: bool

    @property
    def size(self) -> tuple[int, int]:
        return (self.ink.shape[1], self.ink.shape[0])

    def image(self) -> Image.Image:
        """The sheet as RGB: black strokes on white."""
        return Image.fromarray(np.where(self.ink, 0, 255).astype(np.uint8), "L").convert("RGB")

    def stroke_length(self) -> float:
        """The strokes' total length in pixels (their skeleton, approximately: ink area over its width)."""
        import cv2

        if not self.ink.any():
            return 0.0
        ink = self.ink.astype(np.uint8)
        # Stroke width from the distance transform's ridge: twice the mean distance to the paper.
        inside = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
        width = max(1.0, 2.0 * float(inside[self.ink].mean()))
        return float(self.ink.sum()) / width


def clean_drawing(image: Image.Image) -> CleanDrawing:
    """The drawing in ``image`` (RGB) as ink on a flat white sheet."""
    import cv2

    gray = np.asarray(image.convert("L"))
    scale = min(1.0, WORK_MAX_SIDE / max(gray.shape))
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    sheet = _paper(gray)
    paper_found = sheet is not None
    if sheet is None:
        sheet = gray
    flat = _flattened(sheet)
    off_paper = float((flat < PAPER_LEVEL).mean())
    ink = _without_specks(flat < INK_LEVEL, max(2, round((SPECK * max(flat.shape)) ** 2)))
    ys, xs = np.nonzero(ink)
    strokes = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else None
    return CleanDrawing(ink=ink, off_paper=off_paper, strokes=strokes, paper_found=paper_found)


def _paper(gray: np.ndarray) -> np.ndarray | None:
    """The sheet of paper in a photo, warped upright to a rectangle; None when no paper outline shows (a
    canvas drawing, or paper that fills the frame)."""
    import cv2

    blurred = cv2.GaussianBlur(gray, (0, 0), max(1.0, max(gray.shape) / 300))
    _, bright = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(outline)
    if not MIN_PAPER_SHARE * gray.size <= area <= 0.97 * gray.size:
        return None
    corners = cv2.approxPolyDP(outline, 0.02 * cv2.arcLength(outline, True), True)
    if len(corners) != 4 or not cv2.isContourConvex(corners):
        return None
    # Paper must be brighter than what lies around it (not a dark picture on white).
    inside = np.zeros_like(gray)
    cv2.drawContours(inside, [corners], -1, 255, -1)
    if float(np.median(gray[inside > 0])) <= float(np.median(gray[inside == 0])) + 20:
        return None
    quad = _ordered(corners.reshape(4, 2).astype(np.float32))
    width = round(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])))
    height = round(max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1])))
    # Strip a thin band at the edge: the paper's own border would read as a stroke.
    inset = max(2, round(0.01 * max(width, height)))
    target = np.array(
        [
            [-inset, -inset],
            [width + inset, -inset],
            [width + inset, height + inset],
            [-inset, height + inset],
        ],
        np.float32,
    )
    matrix = cv2.getPerspectiveTransform(quad, target)
    return np.asarray(cv2.warpPerspective(gray, matrix, (width, height), flags=cv2.INTER_LINEAR))


def _ordered(points: np.ndarray) -> np.ndarray:
    """Four corners as top-left, top-right, bottom-right, bottom-left."""
    total, diff = points.sum(axis=1), np.diff(points, axis=1).ravel()
    return np.array(
        [points[np.argmin(total)], points[np.argmin(diff)], points[np.argmax(total)], points[np.argmax(diff)]]
    )


def _flattened(gray: np.ndarray) -> np.ndarray:
    """Brightness relative to the paper around each pixel, 0..1 (1 = paper)."""
    import cv2

    side = max(3, round(LIGHT_KERNEL * max(gray.shape)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    closed = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel).astype(np.float32)
    paper = cv2.GaussianBlur(closed, (0, 0), side / 2)
    return np.asarray(np.clip(gray.astype(np.float32) / np.maximum(paper, 1.0), 0.0, 1.0))


def _without_specks(ink: np.ndarray, min_area: int) -> np.ndarray:
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return np.asarray(keep[labels])


# --- an edge extractor: lines drawn from a picture -----------------------------------------------------
# A difference of Gaussians (the XDoG family without its soft shading): a pixel is a line where it is
# darker than its wider surround by more than LINE_CONTRAST. At 512 px a face's features come out as
# single strokes with 4-6 % ink, like a pencil sketch's.
LINE_SIGMA_AT_512 = 1.2
LINE_SURROUND = 1.6
LINE_CONTRAST = 0.02
LINE_TAU = 0.985


def line_drawing(image: Image.Image) -> np.ndarray:
    """Lines drawn from ``image`` (any mode): (H, W) bool, True = line."""
    import cv2

    gray = np.asarray(image.convert("L"), np.float32)
    # Contrast stretched first (1st to 99th percentile): a faded or hazy photo gets its lines too.
    low, high = np.percentile(gray, (1, 99))
    gray = np.clip((gray - low) / max(1.0, float(high - low)), 0.0, 1.0)
    sigma = LINE_SIGMA_AT_512 * max(gray.shape) / 512
    centre = cv2.GaussianBlur(gray, (0, 0), sigma)
    surround = cv2.GaussianBlur(gray, (0, 0), sigma * LINE_SURROUND)
    return np.asarray(centre - LINE_TAU * surround < -LINE_CONTRAST)
